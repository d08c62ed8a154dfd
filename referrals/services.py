"""Everything that changes referral codes, visits, referrals and access requests."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dentaltap.errors import ApplicationError, ConflictError
from invitations.roles import grantable_roles
from referrals import selectors
from referrals.handoffs import ReferralReviewed, referral_reviewed
from referrals.models import (
    AccessRequest,
    AccessRequestStatus,
    Eligibility,
    EligibilityReason,
    PracticeReferralSettings,
    Referral,
    ReferralCode,
    ReferralVisit,
)

# Recording a referral lives in referrals.recording; re-exported here for its callers.
from referrals.recording import (  # noqa: F401
    EligibilityDecision,
    referral_eligibility_decide,
    referral_record,
    referral_risk_signal_add,
    referrer_address_record,
)
from tenants.access import Permission, membership_get_active, membership_has_permission
from tenants.models import JoinedVia, Membership, Practice, Role, User
from tenants.team.audit import RequestMeta, practice_setting_change_record
from tenants.team.services import membership_create

logger = logging.getLogger(__name__)

CODE_BYTES = 6  # 8 URL-safe characters: 2^48 codes, short enough to read out loud


# --------------------------------------------------------------------------- codes and visits


def referral_code_get_or_create(*, user: User) -> ReferralCode:
    """The user's referral code, created on first need. Safe under concurrency: the one-to-one
    and the unique code are database constraints; a lost race reads the winner's row."""
    existing = ReferralCode.objects.filter(user=user).first()
    if existing is not None:
        return existing
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return ReferralCode.objects.create(user=user, code=secrets.token_urlsafe(CODE_BYTES))
        except IntegrityError:
            existing = ReferralCode.objects.filter(user=user).first()
            if existing is not None:
                return existing
    raise RuntimeError("could not allocate a unique referral code")


def referral_visit_record(
    *, referral_code: ReferralCode, referer: str, ip_address: str | None, user_agent: str, landing_path: str
) -> ReferralVisit:
    return ReferralVisit.objects.create(
        referral_code=referral_code,
        referer=referer[:500],
        ip_address=ip_address or None,
        user_agent=user_agent[:300],
        landing_path=landing_path[:300],
    )


# --------------------------------------------------------------------------- signup through a link


@dataclass(frozen=True)
class AccessOffer:
    """What a referral link's door gave a newcomer to the referrer's practice (all may be none)."""

    access_practice: Practice | None = None
    access_request: AccessRequest | None = None
    guest_membership: Membership | None = None


def referral_link_access_offer(
    *, user: User, referral_link_code: str, referral: Referral | None, meta: RequestMeta | None = None
) -> AccessOffer:
    """A newcomer who signed up from a referral link asks for access to the referrer's practice:
    a guest membership at once when that practice lets its links grant it, else an access
    request its team decides (notified after commit). Nothing when the code names no referrer
    with a practice. Called by the signup service (accounts) inside its transaction."""
    access_link = selectors.referral_code_find(referral_link_code)
    access_practice = selectors.referrer_home_practice(user=access_link.user) if access_link else None
    if access_practice is None:
        return AccessOffer()
    if selectors.practice_links_grant_guest_access(practice=access_practice):
        guest_membership = membership_create(
            user=user, practice=access_practice, role=Role.GUEST, joined_via=JoinedVia.REFERRAL_LINK, meta=meta
        )
        return AccessOffer(access_practice=access_practice, guest_membership=guest_membership)
    access_request = AccessRequest.objects.create(practice=access_practice, requester=user, referral=referral)
    request_id = access_request.pk
    transaction.on_commit(lambda: _enqueue_access_request_notify(request_id), robust=True)
    return AccessOffer(access_practice=access_practice, access_request=access_request)


def _enqueue_access_request_notify(access_request_id: int) -> None:
    from referrals.tasks import access_request_notify  # noqa: PLC0415 - tasks import services

    access_request_notify.delay(access_request_id)


# --------------------------------------------------------------------------- access requests


def _require_permission(*, user: User, practice: Practice, permission: str) -> Membership:
    membership = membership_get_active(user=user, practice=practice)
    if not membership_has_permission(membership, permission):
        raise ApplicationError(
            _("Your role in this practice does not allow this."), code="permission_denied", status_code=403
        )
    assert membership is not None  # noqa: S101 - implied by the permission check
    return membership


def _lock_pending_request(access_request_id: int, practice: Practice) -> AccessRequest:
    access_request = (
        AccessRequest.objects.select_for_update()
        .select_related("requester", "practice")
        .filter(pk=access_request_id, practice=practice)
        .first()
    )
    if access_request is None:
        raise ApplicationError(_("This access request does not exist."), code="not_found", status_code=404)
    if access_request.status != AccessRequestStatus.PENDING:
        raise ConflictError(
            _("This request was already answered (%(status)s).") % {"status": access_request.get_status_display()},
            code="already_decided",
        )
    return access_request


@transaction.atomic
def access_request_approve(
    *, access_request_id: int, practice: Practice, by: User, role: str = Role.GUEST
) -> AccessRequest:
    membership = _require_permission(user=by, practice=practice, permission=Permission.MANAGE_TEAM)
    if role not in grantable_roles(membership):
        raise ApplicationError(
            _("You cannot grant this role."),
            code="role_not_allowed",
            fields={"role": [_("You cannot grant this role.")]},
        )
    access_request = _lock_pending_request(access_request_id, practice)
    membership_create(
        user=access_request.requester, practice=practice, role=role, joined_via=JoinedVia.REFERRAL_LINK, actor=by
    )
    access_request.status = AccessRequestStatus.APPROVED
    access_request.granted_role = role
    access_request.decided_by = by
    access_request.decided_at = timezone.now()
    access_request.save(update_fields=["status", "granted_role", "decided_by", "decided_at"])
    return access_request


@transaction.atomic
def access_request_decline(*, access_request_id: int, practice: Practice, by: User) -> AccessRequest:
    _require_permission(user=by, practice=practice, permission=Permission.MANAGE_TEAM)
    access_request = _lock_pending_request(access_request_id, practice)
    access_request.status = AccessRequestStatus.DECLINED
    access_request.decided_by = by
    access_request.decided_at = timezone.now()
    access_request.save(update_fields=["status", "decided_by", "decided_at"])
    return access_request


@transaction.atomic
def access_request_withdraw(*, access_request_id: int, by: User) -> AccessRequest:
    """The newcomer declines the access they were offered; their practice and attribution stay."""
    access_request = AccessRequest.objects.select_for_update().filter(pk=access_request_id, requester=by).first()
    if access_request is None:
        raise ApplicationError(_("This access request does not exist."), code="not_found", status_code=404)
    if access_request.status != AccessRequestStatus.PENDING:
        raise ConflictError(_("This request was already answered."), code="already_decided")
    access_request.status = AccessRequestStatus.WITHDRAWN
    access_request.decided_by = by
    access_request.decided_at = timezone.now()
    access_request.save(update_fields=["status", "decided_by", "decided_at"])
    return access_request


@transaction.atomic
def practice_referral_settings_update(
    *, practice: Practice, by: User, links_grant_guest_access: bool, meta: RequestMeta | None = None
) -> PracticeReferralSettings:
    """Whether the practice's referral links let newcomers in as guests at once. It decides who
    gets in, so a switch is written to the practice's access log (a save that changes nothing
    is not)."""
    _require_permission(user=by, practice=practice, permission=Permission.MANAGE_TEAM)
    row, _created = PracticeReferralSettings.objects.select_for_update().get_or_create(practice=practice)
    before = row.links_grant_guest_access
    row.links_grant_guest_access = links_grant_guest_access
    row.save()
    practice_setting_change_record(
        practice=practice,
        actor=by,
        setting="links_grant_guest_access",
        before=before,
        after=links_grant_guest_access,
        meta=meta,
    )
    return row


# --------------------------------------------------------------------------- staff fraud review


class ReviewDecision:
    APPROVE = "approve"
    REJECT = "reject"
    CHOICES = (APPROVE, REJECT)


@transaction.atomic
def referral_review_decide(*, referral_id: int, decision: str, actor: User, note: str = "") -> Referral:
    """A staff decision on a flagged referral. Approve: eligible (a held reward is released).
    Reject: not eligible, the flag kept as the reason (a reward not yet credited is rejected).
    The reward moves in rewards (referrals.handoffs.referral_reviewed), through its own review
    service, which logs the staff decision."""
    if not actor.is_staff:
        raise ApplicationError(_("Only staff can review referrals."), code="permission_denied", status_code=403)
    if decision not in ReviewDecision.CHOICES:
        text = _("Choose approve or reject.")
        raise ApplicationError(text, fields={"decision": [text]})
    referral = Referral.objects.select_for_update().filter(pk=referral_id).first()
    if referral is None:
        raise ApplicationError(_("This referral does not exist."), code="not_found", status_code=404)
    flag = referral.get_eligibility_reason_display() if referral.eligibility_reason else ""
    note = note.strip()[:200]
    if decision == ReviewDecision.APPROVE:
        referral.eligibility, referral.eligibility_reason = Eligibility.ELIGIBLE, EligibilityReason.NONE
        referral.eligibility_note = (_("Approved by staff after review (%(flag)s).") % {"flag": flag} + " " + note)[
            :300
        ]
    else:
        referral.eligibility = Eligibility.INELIGIBLE
        referral.eligibility_reason = referral.eligibility_reason or EligibilityReason.REJECTED_BY_STAFF
        referral.eligibility_note = (_("Rejected by staff after review.") + " " + (note or referral.eligibility_note))[
            :300
        ]
    referral.reviewed_by, referral.reviewed_at = actor, timezone.now()
    referral.save(update_fields=["eligibility", "eligibility_reason", "eligibility_note", "reviewed_by", "reviewed_at"])

    referral_reviewed.send(ReferralReviewed(referral_id=referral.pk, decision=decision, actor=actor, note=note))
    logger.info("referral %s reviewed by staff %s: %s", referral.pk, actor.pk, decision)
    return referral
