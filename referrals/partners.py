"""Partner codes: generating a batch, finding and locking a code, redeeming it at signup or on
the Billing page (the rules are in `referrals.models_partners` and docs/staff.md).

Redeeming is safe under concurrency: the code's row is locked (`SELECT ... FOR UPDATE`) before
it is checked, its count is raised under that lock (and a CHECK constraint keeps it within the
maximum), and a practice redeems at most one code (a one-to-one). Two signups racing for one
single-use code: the second waits for the first's transaction, then sees the code used up."""

from __future__ import annotations

import csv
import io
import logging
import re
import secrets
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import stripe_gateway
from billing.models import Payment
from billing.services import account_checkout_benefit_set, has_live_subscription
from billing.services.accounts import account_for
from billing.stripe_gateway import StripePermanentError, StripeTransientError
from dentaltap.errors import ApplicationError
from referrals.models import (
    PartnerCode,
    PartnerCodeBatch,
    PartnerCodeKind,
    PartnerRedemption,
    PartnerRedemptionPlace,
    Referral,
    ReferralSource,
)
from tenants.models import Membership, MembershipStatus, Practice, Role, User

logger = logging.getLogger(__name__)

# Crockford's base32 without the letters read as digits: 12 characters are 60 random bits, so
# guessing one live code among a million takes about 10^12 tries (and signups are rate limited).
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GENERATED_LENGTH = 12
FIELD = "partner_code"


def code_normalize(raw: str) -> str:
    """What a person typed, as stored: upper case, without spaces or hyphens."""
    return re.sub(r"[\s\-]", "", raw or "").upper()


def code_display(code: str) -> str:
    """A generated code in groups of four, for print: `7KQ2-M9XD-4TNP`."""
    return "-".join(code[index : index + 4] for index in range(0, len(code), 4))


def code_generate() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(GENERATED_LENGTH))


def _refuse(message: str, code: str) -> ApplicationError:
    return ApplicationError(message, code=code, fields={FIELD: [message]})


# --------------------------------------------------------------------------- batches


@transaction.atomic
def partner_batch_create(*, batch: PartnerCodeBatch, shared_code: str = "", by: User | None = None) -> PartnerCodeBatch:
    """Save a new batch (validated by the caller's form: `batch.full_clean()`) and its codes: the
    shared code (as given, or generated) or `size` single-use codes, all generated. A clash with
    an existing code is retried with fresh ones; a chosen shared code that exists is refused."""
    batch.created_by = by
    batch.save()
    if batch.kind == PartnerCodeKind.SHARED:
        wanted = code_normalize(shared_code)
        if wanted:
            problem = shared_code_problem(wanted)
            if problem:
                raise ApplicationError(problem, code="bad_shared_code", fields={"shared_code": [problem]})
        _codes_insert(batch, [wanted or code_generate()], max_redemptions=batch.max_redemptions)
    else:
        _codes_insert(batch, [code_generate() for _ in range(batch.size)], max_redemptions=1)
    logger.info("partner batch %s: %s %s code(s) for partner %s", batch.pk, batch.size, batch.kind, batch.partner_id)
    return batch


def shared_code_problem(code: str) -> str:
    """Why a chosen shared code (normalized) cannot be used, or "" when it can."""
    if not re.fullmatch(r"[A-Z0-9]{6,32}", code):
        return _("A code is 6 to 32 letters and digits.")
    if PartnerCode.objects.filter(code=code).exists():
        return _("This code is taken: choose another.")
    return ""


def coupon_problem(coupon_id: str) -> str:
    """Why a batch cannot give this Stripe coupon, or "" when Stripe has it and it can still be
    redeemed. Asked of Stripe (through the SDK) when staff save the batch, so a dentist never
    meets a checkout failure for a staff typo; Stripe out of reach is a problem too, so a batch
    is never saved with an unchecked coupon."""
    try:
        coupon = stripe_gateway.coupon_retrieve(coupon_id=coupon_id)
    except StripeTransientError:
        logger.warning("partner batch: Stripe unreachable checking coupon %s", coupon_id)
        return _("Stripe could not be reached to check this coupon: nothing was saved, try again in a moment.")
    except StripePermanentError as error:
        return _("Stripe could not check this coupon (%(reason)s).") % {"reason": error.message}
    if coupon is None:
        return _(
            "Stripe has no coupon “%(coupon)s”: create it in Stripe first, or check the spelling (coupon ids are "
            "case-sensitive)."
        ) % {"coupon": coupon_id}
    if not coupon.get("valid", True):
        return _("The coupon “%(coupon)s” can no longer be redeemed in Stripe (it expired or was used up).") % {
            "coupon": coupon_id
        }
    return ""


def _codes_insert(batch: PartnerCodeBatch, codes: list[str], *, max_redemptions: int | None) -> None:
    pending = list(dict.fromkeys(codes))
    while len(pending) < len(codes):  # a duplicate drawn within the batch (vanishingly rare)
        pending = list(dict.fromkeys([*pending, code_generate()]))
    for _attempt in range(5):
        taken = set(PartnerCode.objects.filter(code__in=pending).values_list("code", flat=True))
        pending = [code if code not in taken else code_generate() for code in pending]
        try:
            with transaction.atomic():
                PartnerCode.objects.bulk_create(
                    [PartnerCode(batch=batch, code=code, max_redemptions=max_redemptions) for code in pending]
                )
                return
        except IntegrityError:  # a concurrent batch drew one of them: draw again
            continue
    raise RuntimeError("could not allocate unique partner codes")


def batch_csv(*, batches: Iterable[PartnerCodeBatch]) -> str:
    """The codes of the batches, one a line, for the partner to print or mail merge."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["partner", "batch", "code", "max_redemptions", "redemptions", "expires_at"])
    for batch in batches:
        for code in batch.codes.order_by("pk"):
            writer.writerow(
                [
                    batch.partner.name,
                    batch.label,
                    code_display(code.code) if batch.kind == PartnerCodeKind.SINGLE_USE else code.code,
                    "" if code.max_redemptions is None else code.max_redemptions,
                    code.redemptions,
                    batch.expires_at.isoformat() if batch.expires_at else "",
                ]
            )
    return out.getvalue()


# --------------------------------------------------------------------------- redeeming


def partner_code_lock_usable(*, raw: str) -> PartnerCode:
    """The code typed, locked for this transaction and usable now, else a refusal naming the
    problem (beside the `partner_code` field). Call inside a transaction."""
    code = code_normalize(raw)
    found = (
        PartnerCode.objects.select_for_update(of=("self",)).select_related("batch__partner").filter(code=code).first()
        if re.fullmatch(r"[A-Z0-9]{6,32}", code)
        else None
    )
    if found is None or not found.batch.partner.is_active:
        raise _refuse(_("There is no such partner code. Check it and try again."), "partner_code_unknown")
    if found.batch.expires_at is not None and found.batch.expires_at <= timezone.now():
        raise _refuse(_("This partner code has expired."), "partner_code_expired")
    if found.max_redemptions is not None and found.redemptions >= found.max_redemptions:
        raise _refuse(_("This partner code has already been used."), "partner_code_used_up")
    return found


def _practice_owner(practice: Practice) -> User | None:
    membership = (
        Membership.objects.filter(practice=practice, role=Role.OWNER, status=MembershipStatus.ACTIVE)
        .select_related("user")
        .order_by("created_at")
        .first()
    )
    return membership.user if membership else None


def partner_code_redeem(
    *,
    code: PartnerCode,
    practice: Practice,
    user: User,
    place: str,
    signup_ip: str | None = None,
) -> PartnerRedemption:
    """Redeem a code locked by `partner_code_lock_usable` for the practice, in the caller's
    transaction: the count, the redemption, the benefit on the billing account, and the
    attribution to the partner when nothing attributed the practice before (first touch)."""
    from referrals.services import referral_record  # noqa: PLC0415 - services is the bigger module; no cycle at import

    if PartnerRedemption.objects.filter(practice=practice).exists():
        raise _refuse(_("This practice has already used a partner code."), "partner_code_already_redeemed")
    owner = _practice_owner(practice) or user
    attributed = (
        not Referral.objects.filter(referred_practice=practice).exists()
        and not Referral.objects.filter(referred_user=owner).exists()
    )
    PartnerCode.objects.filter(pk=code.pk).update(redemptions=F("redemptions") + 1)  # under the row lock
    code.refresh_from_db(fields=["redemptions"])
    try:
        with transaction.atomic():
            redemption = PartnerRedemption.objects.create(
                code=code, practice=practice, redeemed_by=user, place=place, attributed=attributed
            )
    except IntegrityError:  # the same practice redeeming twice at once: the one-to-one decides
        raise _refuse(_("This practice has already used a partner code."), "partner_code_already_redeemed") from None
    batch = code.batch
    account_checkout_benefit_set(practice=practice, trial_days=batch.trial_days, coupon_id=batch.stripe_coupon_id)
    if attributed:
        referral_record(
            referrer=batch.partner.account,
            referred_user=owner,
            referred_practice=practice,
            source=ReferralSource.PARTNER,
            partner_code=code,
            signup_ip=signup_ip,
        )
    logger.info(
        "partner code %s redeemed by practice %s at %s (attributed: %s)", code.pk, practice.pk, place, attributed
    )
    return redemption


def partner_code_redeem_on_billing(*, practice: Practice, user: User, raw: str) -> PartnerRedemption:
    """The Billing page's code field: only before the practice's first payment or subscription."""
    with transaction.atomic():
        account = account_for(practice)
        if has_live_subscription(account) or Payment.objects.filter(practice=practice).exists():
            raise _refuse(_("Partner codes can be used before the first payment only."), "partner_code_after_payment")
        code = partner_code_lock_usable(raw=raw)
        return partner_code_redeem(code=code, practice=practice, user=user, place=PartnerRedemptionPlace.BILLING)
