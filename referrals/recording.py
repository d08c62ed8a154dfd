"""Recording who brought whom: the eligibility rules and fraud signals a new referral is judged
by, and the one write that records it (`referral_record`, for every source: a link, an
invitation, a partner code, a staff attribution). Re-exported by `referrals.services`."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dentaltap.locks import advisory_lock
from invitations.models import Invitation
from referrals import handoffs, mailboxes, risk
from referrals.models import (
    Eligibility,
    EligibilityReason,
    PartnerCode,
    Referral,
    ReferralCode,
    ReferralSource,
    ReferrerAddress,
    RiskLevel,
)
from tenants.models import Practice, User

logger = logging.getLogger(__name__)


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
    # A partner's printed codes bring many practices a day by design: their brake is the codes'
    # maximum redemptions; staff attributions are decided by a person.
    counted = source not in (ReferralSource.PARTNER, ReferralSource.MANUAL)
    recent = Referral.objects.filter(referrer=referrer, created_at__gte=since).count() if counted else 0
    if counted and recent >= limit:
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
    partner_code: PartnerCode | None = None,
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
        partner_code=partner_code,
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
