"""Staff say who brought a practice ("Dr. X sent me"): the referrer or partner it is attributed
to, with a reason, logged (`AttributionChange`: who, when, why, before and after).

The rule (docs/staff.md): an existing attribution is never replaced unless staff tick
"replace"; then the practice's referral points at the new referrer from now on. Rewards
already created stay with whoever earned them, and an event already rewarded is not rewarded
again (one reward per rule, referral, occurrence and recipient): nothing is paid twice."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils.translation import gettext as _

from dentaltap.errors import ApplicationError
from dentaltap.locks import row_lock
from referrals.models import AttributionChange, Partner, PartnerCode, Referral, ReferralSource
from referrals.recording import referral_eligibility_decide, referral_record
from referrals.services import referral_code_get_or_create
from tenants.models import Membership, MembershipStatus, Practice, Role, User

logger = logging.getLogger(__name__)


def attribution_describe(referral: Referral | None) -> str:
    """The attribution in words, for the log (staff-only)."""
    if referral is None:
        return _("Organic (no referrer)")
    partner = referral.partner_code.batch.partner if referral.partner_code_id else None  # type: ignore[union-attr]
    who = f"{referral.referrer.email}" + (f" ({partner.name})" if partner else "")
    return f"{who}, {referral.get_source_display()}"[:300]


def _owner(practice: Practice) -> User:
    membership = (
        Membership.objects.filter(practice=practice, role=Role.OWNER, status=MembershipStatus.ACTIVE)
        .select_related("user")
        .order_by("created_at")
        .first()
    )
    if membership is None:
        text = _("This practice has no active owner to attribute.")
        raise ApplicationError(text, code="no_owner", fields={"practice": [text]})
    return membership.user


def _partner_code_of(partner: Partner) -> PartnerCode | None:
    return PartnerCode.objects.filter(batch__partner=partner).order_by("pk").first()


@transaction.atomic
def attribution_assign(
    *,
    practice: Practice,
    staff: User,
    reason: str,
    referrer: User | None = None,
    partner: Partner | None = None,
    override: bool = False,
) -> AttributionChange:
    """Attribute the practice to a referrer (or a partner: their account, under the partner's
    program). Refused without a reason, without exactly one of referrer/partner, for the
    practice's own owner, and over an existing attribution unless `override`."""
    reason = (reason or "").strip()
    if not reason:
        text = _("Say why: the reason is logged.")
        raise ApplicationError(text, code="reason_required", fields={"reason": [text]})
    if (referrer is None) == (partner is None):
        text = _("Choose a referrer or a partner, not both.")
        raise ApplicationError(text, code="target_required", fields={"referrer": [text]})
    row_lock(Practice.objects, pk=practice.pk)  # one attribution change of a practice at a time
    owner = _owner(practice)
    partner_code = None
    if partner is not None:
        partner_code = _partner_code_of(partner)
        if partner_code is None:
            text = _("This partner has no codes yet: create a batch first.")
            raise ApplicationError(text, code="partner_without_codes", fields={"partner": [text]})
        referrer = partner.account
    assert referrer is not None  # noqa: S101 - one of the two is set (checked above)
    if referrer.pk == owner.pk:
        text = _("A practice's owner cannot be their own referrer.")
        raise ApplicationError(text, code="self_referral", fields={"referrer": [text]})
    existing = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("referrer", "partner_code__batch__partner")
        .filter(referred_user=owner)
        .first()
    )
    before = attribution_describe(existing)
    if existing is not None and not override:
        text = _("This practice is already attributed (%(before)s). Tick “replace” to change it.") % {"before": before}
        raise ApplicationError(text, code="already_attributed", fields={"override": [text]})
    source = ReferralSource.PARTNER if partner_code is not None else ReferralSource.MANUAL
    if existing is None:
        referral = referral_record(
            referrer=referrer,
            referred_user=owner,
            referred_practice=practice,
            source=source,
            referral_code=referral_code_get_or_create(user=referrer),
            partner_code=partner_code,
        )
    else:
        decision = referral_eligibility_decide(referrer=referrer, referred_user=owner, source=source)
        existing.referrer, existing.source, existing.partner_code = referrer, source, partner_code
        existing.referral_code = referral_code_get_or_create(user=referrer)
        existing.referred_practice = existing.referred_practice or practice
        existing.invitation = None
        existing.eligibility, existing.eligibility_reason = decision.eligibility, decision.reason
        existing.eligibility_note = decision.note
        existing.save()
        referral = existing
    referral = Referral.objects.select_related("referrer", "partner_code__batch__partner").get(pk=referral.pk)
    change = AttributionChange.objects.create(
        practice=practice,
        changed_by=staff,
        reason=reason[:500],
        before=before,
        after=attribution_describe(referral),
        overrode=existing is not None,
    )
    logger.info("attribution of practice %s set by staff %s: %s -> %s", practice.pk, staff.pk, before, change.after)
    return change
