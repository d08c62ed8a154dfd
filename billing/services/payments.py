"""Payments, their reversals (refunds and disputes) and the append-only credit ledger.

Money rules: a payment is one row per Stripe invoice, a reversal one row per charge or
dispute (unique keys, so duplicates and replays change nothing); a balance is the sum of the
ledger, a correction a reversing entry."""

from __future__ import annotations

from django.db.models import Q, Sum
from django.utils.translation import gettext as _

from billing import handoffs
from billing.models import LedgerEntry, Payment, PaymentReversal
from dentaltap.locks import advisory_lock
from tenants.models import Practice

# Refunds adding up to this share of the payment (or more) mean it no longer qualifies a
# referral reward (docs/staff.md).
REFUND_VOID_PERCENT = 50


def payments_lock() -> None:
    """Payments, refunds and disputes are applied one at a time: a refund processed at the same
    moment as its payment must see it (or be seen by it), never slip between them."""
    advisory_lock("billing:payments")


def _reversals_for(payment: Payment) -> list[PaymentReversal]:
    keys = Q(pk__in=[])
    if payment.stripe_charge_id:
        keys |= Q(stripe_charge_id=payment.stripe_charge_id)
    if payment.stripe_payment_intent_id:
        keys |= Q(stripe_payment_intent_id=payment.stripe_payment_intent_id)
    return list(PaymentReversal.objects.filter(keys))


def payment_refunded_cents(payment: Payment) -> int:
    """How much of the payment was refunded so far (disputes not counted: they void it)."""
    return sum(
        reversal.amount_cents for reversal in _reversals_for(payment) if reversal.kind == PaymentReversal.Kind.REFUND
    )


def payment_kept_cents(payment: Payment) -> int:
    """What the practice still pays of the payment: its amount less refunds and disputed
    amounts (what a percentage reward is a share of)."""
    taken = sum(reversal.amount_cents for reversal in _reversals_for(payment))
    return max(payment.amount_cents - taken, 0)


def payment_void_reason(payment: Payment) -> str:
    """Why the payment no longer qualifies a referral, or "" while it still does. A dispute
    voids it whatever its amount; refunds void it once they add up to half of it or more
    (REFUND_VOID_PERCENT): a smaller refund is a goodwill gesture or a correction, and the
    practice is still a paying customer. docs/staff.md explains the rule."""
    reversals = _reversals_for(payment)
    if any(reversal.kind == PaymentReversal.Kind.DISPUTE for reversal in reversals):
        return _("The qualifying payment was disputed.")
    refunded = sum(reversal.amount_cents for reversal in reversals)
    if refunded and refunded * 100 >= payment.amount_cents * REFUND_VOID_PERCENT:
        return _("%(refunded)s of the qualifying payment of %(paid)s was refunded (half or more).") % {
            "refunded": f"{refunded / 100:.2f}",
            "paid": f"{payment.amount_cents / 100:.2f} {payment.currency.upper()}",
        }
    return ""


def payment_reversed(*, payment: Payment, reason: str) -> None:
    """Mark the payment as no longer qualifying and hand that up (rewards cancels or claws back
    what it qualified). Call with the payment row locked, inside the event's transaction."""
    payment.is_reversed = True
    payment.save(update_fields=["is_reversed"])
    handoffs.payment_reversed.send(
        handoffs.PaymentReversed(payment_id=payment.pk, practice_id=payment.practice_id, reason=reason)
    )


def credit_balance_cents(*, practice: Practice) -> int:
    return LedgerEntry.objects.filter(practice=practice).aggregate(total=Sum("amount_cents"))["total"] or 0


def ledger_entry_record(
    *,
    practice_id: int,
    reward_id: int,
    kind: str,
    amount_cents: int,
    currency: str,
    description: str,
    stripe_balance_transaction_id: str,
    adjustment_key: str = "",
) -> LedgerEntry:
    """Append the ledger entry of a reward credit, clawback or adjustment, once: one entry per
    reward, kind and adjustment key is a database rule, so a repeated call returns the entry
    already there."""
    entry, _created = LedgerEntry.objects.get_or_create(
        reward_id=reward_id,
        kind=kind,
        adjustment_key=adjustment_key,
        defaults={
            "practice_id": practice_id,
            "amount_cents": amount_cents,
            "currency": currency,
            "description": description,
            "stripe_balance_transaction_id": stripe_balance_transaction_id,
        },
    )
    return entry
