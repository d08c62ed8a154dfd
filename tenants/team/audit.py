"""The access log: what a team change records, and where the request came from. Append-only:
entries are written here and never edited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from dentaltap.ratelimit import client_ip
from tenants.access import permissions_for
from tenants.models import AccessAction, AccessChange, Membership, MembershipStatus, Practice, User


@dataclass(frozen=True)
class RequestMeta:
    """Where a change came from, for the audit log."""

    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> RequestMeta:
        return cls.from_values(ip_address=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", ""))

    @classmethod
    def from_values(cls, *, ip_address: str | None, user_agent: str) -> RequestMeta:
        """From what a caller read: an unknown address is none (the client-IP function answers
        "unknown" without one), and the agent is cut to its column."""
        return cls(
            ip_address=ip_address if ip_address and ip_address != "unknown" else None, user_agent=user_agent[:300]
        )


def membership_snapshot(membership: Membership) -> dict[str, Any]:
    return {
        "role": membership.role,
        "status": membership.status,
        "granted_permissions": sorted(membership.granted_permissions),
        "revoked_permissions": sorted(membership.revoked_permissions),
        "expires_at": membership.expires_at.isoformat() if membership.expires_at else None,
        "effective_permissions": sorted(
            permissions_for(membership.role, membership.granted_permissions, membership.revoked_permissions)
        )
        if membership.status == MembershipStatus.ACTIVE
        else [],
    }


def access_change_record(
    *,
    practice: Practice,
    actor: User | None,
    membership: Membership,
    action: str,
    before: dict[str, Any] | None,
    meta: RequestMeta | None = None,
) -> AccessChange:
    meta = meta or RequestMeta()
    return AccessChange.objects.create(
        practice=practice,
        actor=actor,
        member_id=membership.user_id,
        membership=membership,
        action=action,
        before=before,
        after=membership_snapshot(membership),
        ip_address=meta.ip_address,
        user_agent=meta.user_agent,
    )


def practice_setting_change_record(
    *,
    practice: Practice,
    actor: User,
    setting: str,
    before: Any,
    after: Any,
    meta: RequestMeta | None = None,
) -> AccessChange | None:
    """Audit a change to a practice setting that decides who gets in (e.g. whether referral
    links grant guest access). Nothing is written when the value did not change. Call inside
    the transaction that changes the setting."""
    if before == after:
        return None
    meta = meta or RequestMeta()
    return AccessChange.objects.create(
        practice=practice,
        actor=actor,
        action=AccessAction.SETTING_CHANGED,
        before={"setting": setting, "value": before},
        after={"setting": setting, "value": after},
        ip_address=meta.ip_address,
        user_agent=meta.user_agent,
    )


# --------------------------------------------------------------------------- internals
