"""Everything that changes referral codes, visits, referrals and access requests."""

from __future__ import annotations

import datetime
import logging
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dentaltap.errors import ApplicationError, ConflictError
from dentaltap.locks import advisory_lock
from invitations.models import Invitation
from invitations.roles import grantable_roles
from referrals import handoffs, mailboxes, risk, selectors
from referrals.handoffs import ReferralReviewed, referral_reviewed
from referrals.models import (
    AccessRequest,
    AccessRequestStatus,
    Eligibility,
    EligibilityReason,
    PracticeReferralSettings,
    Referral,
    ReferralCode,
    ReferralSource,
    ReferralVisit,
    ReferrerAddress,
    RiskLevel,
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


# --------------------------------------------------------------------------- eligibility and referrals


@dataclass(frozen=True)
class EligibilityDecision:
    eligibility: str
    reason: str = EligibilityReason.NONE
    note: str = ""
    assessment: risk.Risk = field(default_factory=lambda: risk.Risk(score=0, level=RiskLevel.LOW, signals=[]))


def referrer_address_record(*, user: User, ip_address: str | None) -> None:
    """Remember an address the user was seen at (one row per user and address: a repeat is one
    indexed read). Unknown addresses are skipped."""
    if not ip_address or ip_address == "unknown":
        return
    if not ReferrerAddress.objects.filter(user=user, ip_address=ip_address).exists():
        ReferrerAddress.objects.bulk_create(
            [ReferrerAddress(user=user, ip_address=ip_address)], ignore_conflicts=True
        )  # a concurrent twin loses quietly on the unique constraint


def referral_eligibility_decide(
    *, referrer: User, referred_user: User, signup_ip: str | None = None, source: str = ReferralSource.LINK
) -> EligibilityDecision:
    """Hard rules first, each making the referral not eligible: self-referral, an already
    registered mailbox, the referrer's velocity. Then the fraud signals (referrals/risk.py),
    combined into a risk level: only a high one sends the referral to staff review. A shared
    network alone never does: colleagues in one clinic share one. Call inside the signup
    transaction, which holds the referrer's advisory lock so concurrent signups count each other."""
    email = referred_user.email
    assessed = risk.combine(
        [
            signal.as_json()
            for signal in risk.signup_signals(referrer=referrer, email=email, signup_ip=signup_ip, source=source)
        ]
    )
    if referrer.pk == referred_user.pk or mailboxes.mailbox_canonical(referrer.email) == mailboxes.mailbox_canonical(
        email
    ):
        return EligibilityDecision(
            Eligibility.INELIGIBLE,
            EligibilityReason.SELF_REFERRAL,
            _("The referrer and the new user share a mailbox."),
            assessed,
        )
    if mailboxes.users_with_mailbox(email).exclude(pk=referred_user.pk).exists():
        return EligibilityDecision(
            Eligibility.INELIGIBLE,
            EligibilityReason.EMAIL_REGISTERED,
            _("Another account already uses this mailbox under a different spelling."),
            assessed,
        )
    limit = settings.REFERRAL_VELOCITY_LIMIT_PER_DAY
    since = timezone.now() - datetime.timedelta(days=1)
    recent = Referral.objects.filter(referrer=referrer, created_at__gte=since).count()
    if recent >= limit:
        return EligibilityDecision(
            Eligibility.INELIGIBLE,
            EligibilityReason.VELOCITY_LIMIT,
            _("The referrer already brought %(count)d signups in 24 hours (limit %(limit)d).")
            % {"count": recent, "limit": limit},
            assessed,
        )
    if assessed.level == RiskLevel.HIGH:
        return EligibilityDecision(Eligibility.REVIEW, assessed.strongest_reason, _risk_note(assessed), assessed)
    return EligibilityDecision(Eligibility.ELIGIBLE, assessment=assessed)


def _risk_note(assessed: risk.Risk) -> str:
    details = " ".join(str(signal["detail"]) for signal in sorted(assessed.signals, key=lambda s: -s["points"]))
    level = RiskLevel(assessed.level).label
    return (_("Risk %(level)s (%(score)d).") % {"level": level, "score": assessed.score} + " " + details)[:300]


@transaction.atomic
def referral_risk_signal_add(*, referral_id: int, signal: risk.Signal) -> tuple[Referral, bool]:
    """Add a signal seen after signup (the same card at payment) and re-assess. Returns the
    referral and whether the signal was new. A new signal that makes the level high sends an
    eligible referral (even one staff approved before: this is news) back to staff review."""
    referral = Referral.objects.select_for_update().get(pk=referral_id)
    if any(existing.get("code") == signal.code for existing in referral.risk_signals):
        return referral, False
    assessed = risk.combine([*referral.risk_signals, signal.as_json()])
    referral.risk_signals, referral.risk_score, referral.risk_level = assessed.signals, assessed.score, assessed.level
    fields = ["risk_signals", "risk_score", "risk_level"]
    if assessed.level == RiskLevel.HIGH and referral.eligibility != Eligibility.INELIGIBLE:
        referral.eligibility, referral.eligibility_reason = Eligibility.REVIEW, assessed.strongest_reason
        referral.eligibility_note = _risk_note(assessed)
        referral.reviewed_by, referral.reviewed_at = None, None
        fields += ["eligibility", "eligibility_reason", "eligibility_note", "reviewed_by", "reviewed_at"]
    referral.save(update_fields=fields)
    logger.info("referral %s: signal %s, risk %s (%s)", referral.pk, signal.code, assessed.level, assessed.score)
    return referral, True


@transaction.atomic
def referral_record(
    *,
    referrer: User,
    referred_user: User,
    referred_practice: Practice | None,
    source: str,
    invitation: Invitation | None = None,
    referral_code: ReferralCode | None = None,
    signup_ip: str | None = None,
) -> Referral:
    signup_ip = signup_ip if signup_ip and signup_ip != "unknown" else None
    # Serialises one referrer's concurrent signups so the velocity count is exact.
    advisory_lock(f"referrals:{referrer.pk}")
    decision = referral_eligibility_decide(
        referrer=referrer, referred_user=referred_user, signup_ip=signup_ip, source=source
    )
    referral = Referral.objects.create(
        referrer=referrer,
        referred_user=referred_user,
        referred_practice=referred_practice,
        source=source,
        invitation=invitation,
        referral_code=referral_code,
        eligibility=decision.eligibility,
        eligibility_reason=decision.reason,
        eligibility_note=decision.note,
        signup_ip=signup_ip,
        risk_level=decision.assessment.level,
        risk_score=decision.assessment.score,
        risk_signals=decision.assessment.signals,
    )
    logger.info(
        "referral %s: %s -> %s via %s (%s %s, risk %s %s)",
        referral.pk,
        referrer.pk,
        referred_user.pk,
        source,
        decision.eligibility,
        decision.reason,
        decision.assessment.level,
        decision.assessment.score,
    )
    handoffs.referral_created.send(handoffs.ReferralCreated(referral_id=referral.pk))
    return referral


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
