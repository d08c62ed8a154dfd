"""Reads about a practice's team: who is in it and what they may do, the Team page's rows and
sections, and the access log in words."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, IntegerField, OuterRef, Subquery, Value, When
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dentaltap import formatting
from tenants.access import membership_permissions, permissions_for
from tenants.models import (
    AccessAction,
    AccessChange,
    Membership,
    MembershipStatus,
    PermissionCode,
    Practice,
    Role,
)
from tenants.team import rules as team_rules


def effective_permissions(membership: Membership) -> frozenset[str]:
    """What the member could do with their access active (the page shows this for suspended
    members too, so an owner sees what restoring would give back)."""
    return permissions_for(membership.role, membership.granted_permissions, membership.revoked_permissions)


@dataclass(frozen=True)
class TeamRow:
    membership: Membership
    permissions: list[tuple[str, str]]  # what they can do now: nothing unless their access is on
    restorable_permissions: list[tuple[str, str]]  # a suspended member's, given back on restore
    has_access_now: bool
    is_expired: bool
    has_left: bool  # ended by the member themselves (Left), not by a manager (Revoked)
    status_label: str
    actions: team_rules.MemberActions


def _labelled(permissions: frozenset[str]) -> list[tuple[str, str]]:
    labels = dict(PermissionCode.choices)
    return [(name, str(labels[name])) for name in PermissionCode.values if name in permissions]


def member_actions(*, viewer: Membership | None, target: Membership) -> team_rules.MemberActions:
    """What `viewer` may do to `target` now: the team services' own rules (tenants.team.rules)."""
    other_owners = (
        Membership.objects.filter(practice_id=target.practice_id, role=Role.OWNER, status=MembershipStatus.ACTIVE)
        .exclude(pk=target.pk)
        .count()
    )
    return team_rules.member_actions(viewer=viewer, target=target, other_active_owners=other_owners)


def _ended_by(practice: Practice) -> Subquery:
    """The latest action that ended a membership: LEFT (by the member) or REVOKED (by a manager)."""
    return Subquery(
        AccessChange.objects.filter(
            practice=practice, membership=OuterRef("pk"), action__in=[AccessAction.LEFT, AccessAction.REVOKED]
        )
        .order_by("-created_at", "-id")
        .values("action")[:1]
    )


def team_members(*, practice: Practice, viewer: Membership | None = None) -> list[TeamRow]:
    """Everyone with a membership in the practice, owners first, revoked last, with what the
    viewer may do to each (two queries)."""
    memberships = list(
        Membership.objects.filter(practice=practice)
        .select_related("user")
        .annotate(
            status_rank=Case(
                When(status=MembershipStatus.ACTIVE, then=Value(0)),
                When(status=MembershipStatus.SUSPENDED, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            ),
            owner_rank=Case(When(role=Role.OWNER, then=Value(0)), default=Value(1), output_field=IntegerField()),
            ended_by=_ended_by(practice),
        )
        .order_by("status_rank", "owner_rank", "user__full_name", "user__email")
    )
    owners = {m.pk for m in memberships if m.role == Role.OWNER and m.status == MembershipStatus.ACTIVE}
    now = timezone.now()
    rows = []
    for membership in memberships:
        is_expired = membership.expires_at is not None and membership.expires_at <= now
        has_left = membership.status == MembershipStatus.REVOKED and membership.ended_by == AccessAction.LEFT
        if has_left:
            status_label = str(_("Left"))
        elif membership.status == MembershipStatus.ACTIVE and is_expired:
            status_label = str(_("Expired"))
        else:
            status_label = str(membership.get_status_display())
        rows.append(
            TeamRow(
                membership=membership,
                permissions=_labelled(membership_permissions(membership)),
                restorable_permissions=_labelled(effective_permissions(membership))
                if membership.status == MembershipStatus.SUSPENDED
                else [],
                has_access_now=bool(membership_permissions(membership))
                or (membership.status == MembershipStatus.ACTIVE and not is_expired),
                is_expired=is_expired,
                has_left=has_left,
                status_label=status_label,
                actions=team_rules.member_actions(
                    viewer=viewer, target=membership, other_active_owners=len(owners - {membership.pk})
                ),
            )
        )
    return rows


# --------------------------------------------------------------------------- hand-offs from higher apps

TeamSection = Callable[[HttpRequest, Practice], "dict[str, Any] | None"]
_team_sections: list[TeamSection] = []
# Labels of the practice settings written to the access log (AccessAction.SETTING_CHANGED).
SETTING_LABELS: dict[str, Any] = {}


def team_section_register(provider: TeamSection) -> None:
    """A higher app adds a section to the Team page (at start-up, from its AppConfig.ready):
    `provider(request, practice)` returns {"template": ..., **context} or None to show nothing."""
    if provider not in _team_sections:
        _team_sections.append(provider)


def setting_label_register(setting: str, label: Any) -> None:
    SETTING_LABELS[setting] = label


def team_extra_sections(request: HttpRequest, practice: Practice) -> list[dict[str, Any]]:
    """Sections other apps add to the Team page (pending access requests)."""
    sections = (provider(request, practice) for provider in _team_sections)
    return [section for section in sections if section]


# --------------------------------------------------------------------------- the access log in words


def _on_off(value: Any) -> str:
    if isinstance(value, str):  # a named value (a time zone): shown as it is
        return value
    return str(_("on")) if value else str(_("off"))


def _permissions_of(snapshot: dict[str, Any]) -> frozenset[str]:
    return permissions_for(
        snapshot.get("role", ""), snapshot.get("granted_permissions", []), snapshot.get("revoked_permissions", [])
    )


def _expiry_text(value: str | None) -> str:
    if not value:
        return str(_("lasting"))
    return formatting.date_time(datetime.datetime.fromisoformat(value))


def access_change_summary(change: AccessChange) -> list[str]:
    """What an access-log entry changed, in words: role, status, permissions added and removed,
    expiry; or the practice setting and its new value. Never "a / b -> a / b"."""
    before, after = change.before or {}, change.after or {}
    if change.action == AccessAction.SETTING_CHANGED:
        setting = after.get("setting", "")
        label = SETTING_LABELS.get(setting, setting)
        return [
            str(_("%(setting)s: %(before)s → %(after)s"))
            % {"setting": label, "before": _on_off(before.get("value")), "after": _on_off(after.get("value"))}
        ]
    roles, statuses = dict(Role.choices), dict(MembershipStatus.choices)
    lines: list[str] = []
    if not before:
        lines.append(str(_("Joined as %(role)s")) % {"role": roles.get(after.get("role", ""), after.get("role"))})
        return lines
    if before.get("role") != after.get("role"):
        lines.append(
            str(_("Role: %(before)s → %(after)s"))
            % {"before": roles.get(before.get("role", ""), ""), "after": roles.get(after.get("role", ""), "")}
        )
    if before.get("status") != after.get("status"):
        after_status = (
            str(_("Left")) if change.action == AccessAction.LEFT else str(statuses.get(after.get("status", ""), ""))
        )
        lines.append(
            str(_("Access: %(before)s → %(after)s"))
            % {"before": statuses.get(before.get("status", ""), ""), "after": after_status}
        )
    labels = dict(PermissionCode.choices)
    gained = _permissions_of(after) - _permissions_of(before)
    lost = _permissions_of(before) - _permissions_of(after)
    if gained:
        names = ", ".join(str(labels[name]) for name in PermissionCode.values if name in gained)
        lines.append(str(_("Can now: %(permissions)s")) % {"permissions": names})
    if lost:
        names = ", ".join(str(labels[name]) for name in PermissionCode.values if name in lost)
        lines.append(str(_("No longer: %(permissions)s")) % {"permissions": names})
    if before.get("expires_at") != after.get("expires_at"):
        lines.append(
            str(_("Access until: %(before)s → %(after)s"))
            % {"before": _expiry_text(before.get("expires_at")), "after": _expiry_text(after.get("expires_at"))}
        )
    return lines or [str(_("Nothing changed"))]
