"""Payouts to affiliates, recorded by staff once the money has left by bank transfer (there are
no payout rails). A payout is an entry of the affiliate's append-only ledger and is never
edited: a wrong one is reversed whole (one reversal per payout, database rule) and recorded
again. Both refuse with a message naming the field; the affiliate's balance is read under a
lock per affiliate, so two staff members cannot pay out the same money twice."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from dentaltap.errors import ApplicationError
from dentaltap.formatting import money
from dentaltap.locks import advisory_lock
from rewards.models import AffiliateEntry, AffiliateEntryKind
from tenants.models import User

MAX_PAYOUT_CENTS = 100_000_000  # $1,000,000: a typo guard, far above any revenue share


def affiliate_balance_cents(*, affiliate_id: int, currency: str) -> int:
    """What the affiliate is owed now in a currency: the sum of their ledger."""
    total = AffiliateEntry.objects.filter(affiliate_id=affiliate_id, currency=currency.lower()).aggregate(
        total=Sum("amount_cents")
    )["total"]
    return total or 0


def _refuse(field: str, message: str) -> ApplicationError:
    return ApplicationError(message, code="invalid_payout", fields={field: [message]})


@transaction.atomic
def payout_record(
    *,
    affiliate: User,
    amount_cents: int,
    currency: str,
    paid_on: datetime.date,
    reference: str,
    actor: User,
    note: str = "",
) -> AffiliateEntry:
    """Record that `amount_cents` was paid to the affiliate on `paid_on`."""
    currency = currency.lower()
    if amount_cents <= 0:
        raise _refuse("amount_cents", _("A payout must be above zero."))
    if amount_cents > MAX_PAYOUT_CENTS:
        raise _refuse("amount_cents", _("This payout is larger than any revenue share: check the amount."))
    if paid_on > timezone.localdate():
        raise _refuse("paid_on", _("A payout is recorded once it is made: the date cannot be in the future."))
    if not reference.strip():
        raise _refuse("reference", _("Give the bank transfer's reference."))
    advisory_lock(f"rewards:affiliate:{affiliate.pk}")
    owed = affiliate_balance_cents(affiliate_id=affiliate.pk, currency=currency)
    if amount_cents > owed:
        raise _refuse(
            "amount_cents",
            _("The affiliate is owed %(owed)s: a payout of %(amount)s is more than that.")
            % {"owed": money(owed, currency), "amount": money(amount_cents, currency)},
        )
    return AffiliateEntry.objects.create(
        affiliate=affiliate,
        kind=AffiliateEntryKind.PAID_OUT,
        amount_cents=-amount_cents,
        currency=currency,
        reference=reference.strip()[:100],
        note=note[:300],
        recorded_by=actor,
        occurred_at=datetime.datetime.combine(paid_on, datetime.time(12), tzinfo=datetime.UTC),
    )


@transaction.atomic
def payout_reverse(*, payout_id: int, actor: User, note: str) -> AffiliateEntry:
    """A payout recorded by mistake (wrong amount, wrong affiliate, a transfer that bounced):
    one reversing entry of the same amount, dated now. The payout itself is never changed."""
    payout = AffiliateEntry.objects.select_for_update().filter(pk=payout_id).first()
    if payout is None or payout.kind != AffiliateEntryKind.PAID_OUT:
        raise _refuse("payout", _("Only a payout can be reversed."))
    if not note.strip():
        raise _refuse("note", _("Say why the payout is reversed."))
    if AffiliateEntry.objects.filter(reverses=payout).exists():
        raise _refuse("payout", _("This payout was already reversed."))
    advisory_lock(f"rewards:affiliate:{payout.affiliate_id}")
    return AffiliateEntry.objects.create(
        affiliate_id=payout.affiliate_id,
        kind=AffiliateEntryKind.PAYOUT_REVERSED,
        amount_cents=-payout.amount_cents,
        currency=payout.currency,
        reverses=payout,
        reference=payout.reference,
        note=note.strip()[:300],
        recorded_by=actor,
        occurred_at=timezone.now(),
    )
