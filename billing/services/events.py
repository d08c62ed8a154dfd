"""Stripe event handlers: what each event type changes. Called by the inbox
(billing.services.inbox.stripe_event_process) with the event row locked, inside a savepoint, so
a failing handler leaves nothing behind. Every handler is keyed on the Stripe object (invoice,
charge, dispute, subscription), so a duplicate or an out-of-order event changes nothing.

What concerns the layers above (a payment recorded or reversed, a new card seen) is handed up
through billing.handoffs; their receivers' notes become the inbox note."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Q

from billing import cards, handoffs
from billing.models import Payment, PaymentReversal, Plan, PracticeAccount, StripeEvent
from billing.services.accounts import PAID_SUBSCRIPTION_STATUSES, plan_freemium
from billing.services.payments import (
    payment_kept_cents,
    payment_refunded_cents,
    payment_reversed,
    payment_void_reason,
    payments_lock,
)
from onboarding.models import MilestoneKey
from onboarding.services import milestone_record
from tenants.models import Practice


class UnknownCustomer(Exception):
    """An event about a Stripe customer that is not one of our practices."""


def _practice_for_customer(customer_id: str | None, metadata: dict[str, Any] | None = None) -> Practice:
    account = (
        PracticeAccount.objects.select_related("practice").filter(stripe_customer_id=customer_id).first()
        if customer_id
        else None
    )
    if account is not None:
        return account.practice
    raise UnknownCustomer(customer_id or "(none)")


def _stripe_id(value: Any) -> str:
    """An id field that may come expanded (an object) or not (a string)."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def _invoice_payment_ids(invoice: dict[str, Any]) -> tuple[str, str]:
    """The charge and payment intent behind an invoice. API versions before 2025-03-31 put them on
    the invoice; newer ones report them in a separate `invoice_payment.paid` event (or under an
    expanded `payments`), which may arrive before or after `invoice.paid`: the inbox keeps it."""
    charge, intent = _stripe_id(invoice.get("charge")), _stripe_id(invoice.get("payment_intent"))
    for item in (invoice.get("payments") or {}).get("data", []) or []:
        payment = item.get("payment") or {}
        charge, intent = (
            charge or _stripe_id(payment.get("charge")),
            intent or _stripe_id(payment.get("payment_intent")),
        )
    if not (charge or intent):
        for payload in StripeEvent.objects.filter(
            type="invoice_payment.paid", payload__data__object__invoice=invoice.get("id")
        ).values_list("payload", flat=True):
            payment = payload["data"]["object"].get("payment") or {}
            charge, intent = (
                charge or _stripe_id(payment.get("charge")),
                intent or _stripe_id(payment.get("payment_intent")),
            )
    return charge, intent


def _on_invoice_paid(invoice: dict[str, Any], event: StripeEvent) -> str:
    practice = _practice_for_customer(invoice.get("customer"))
    amount = int(invoice.get("amount_paid") or 0)
    if invoice.get("status") not in (None, "paid") or amount <= 0:
        return "invoice not paid or zero amount: does not qualify a referral"
    payments_lock()
    cards.cards_record(practice=practice, cards=cards.cards_in(invoice))
    charge_id, intent_id = _invoice_payment_ids(invoice)
    paid_at_unix = (invoice.get("status_transitions") or {}).get("paid_at") or event.stripe_created
    payment, created = Payment.objects.get_or_create(
        stripe_invoice_id=invoice["id"],
        defaults={
            "practice": practice,
            "stripe_customer_id": invoice["customer"],
            "stripe_charge_id": charge_id,
            "stripe_payment_intent_id": intent_id,
            "amount_cents": amount,
            "currency": str(invoice.get("currency") or "usd"),
            "livemode": bool(invoice.get("livemode")),
            "paid_at": datetime.datetime.fromtimestamp(paid_at_unix, tz=datetime.UTC),
            "hosted_invoice_url": str(invoice.get("hosted_invoice_url") or "")[:500],
            "number": str(invoice.get("number") or "")[:60],
        },
    )
    if not created:
        return f"payment {invoice['id']} already recorded"
    milestone_record(practice_id=practice.pk, key=MilestoneKey.FIRST_PAYMENT, at=payment.paid_at)
    if payment_void_reason(payment):  # refunded or disputed before this event arrived
        payment.is_reversed = True
        payment.save(update_fields=["is_reversed"])
    recorded = handoffs.PaymentRecorded(
        payment_id=payment.pk,
        practice_id=practice.pk,
        amount_cents=payment.amount_cents,
        currency=payment.currency,
        paid_at=payment.paid_at,
        is_reversed=payment.is_reversed,
        refunded_cents=payment_refunded_cents(payment),
    )
    return "; ".join(handoffs.payment_recorded.send(recorded)) or f"payment {invoice['id']} recorded"


def _on_invoice_payment_paid(invoice_payment: dict[str, Any], event: StripeEvent) -> str:
    """Newer API versions: which charge / payment intent paid an invoice (for refund matching)."""
    payments_lock()
    payment = (
        Payment.objects.select_for_update().filter(stripe_invoice_id=_stripe_id(invoice_payment.get("invoice"))).first()
    )
    if payment is None:
        return "kept in the inbox until its invoice.paid arrives"
    paid_by = invoice_payment.get("payment") or {}
    payment.stripe_charge_id = payment.stripe_charge_id or _stripe_id(paid_by.get("charge"))
    payment.stripe_payment_intent_id = payment.stripe_payment_intent_id or _stripe_id(paid_by.get("payment_intent"))
    payment.save(update_fields=["stripe_charge_id", "stripe_payment_intent_id"])
    if payment_kept_cents(payment) < payment.amount_cents:  # refunds or disputes that waited for the link
        _shrunk(payment)
    reason = "" if payment.is_reversed else payment_void_reason(payment)
    if reason:
        payment_reversed(payment=payment, reason=reason)
        return "payment linked; it was already refunded or disputed"
    return "payment linked to its charge"


def _shrunk(payment: Payment) -> None:
    """More of the payment was refunded or disputed: percentage rewards shrink in proportion."""
    handoffs.payment_refunded.send(
        handoffs.PaymentRefunded(
            payment_id=payment.pk,
            practice_id=payment.practice_id,
            refunded_cents=payment.amount_cents - payment_kept_cents(payment),
        )
    )


def _on_reversal(kind: str, obj: dict[str, Any], event: StripeEvent) -> str:
    """A refund (charge.refunded: one per refund, each carrying the charge's running total in
    `amount_refunded`, in any order) or a dispute. One row per charge or dispute; for refunds it
    keeps the highest total reported, so a late, older report never lowers it."""
    is_refund = kind == PaymentReversal.Kind.REFUND
    amount = int((obj.get("amount_refunded") if is_refund else obj.get("amount")) or 0)
    if is_refund and amount <= 0:
        return "nothing refunded"
    payments_lock()
    charge_id = obj.get("id") if is_refund else obj.get("charge")
    reversal, created = PaymentReversal.objects.select_for_update().get_or_create(
        stripe_object_id=obj["id"],
        defaults={
            "kind": kind,
            "stripe_customer_id": _stripe_id(obj.get("customer")),
            "stripe_charge_id": _stripe_id(charge_id),
            "stripe_payment_intent_id": _stripe_id(obj.get("payment_intent")),
            "amount_cents": amount,
            "occurred_at": datetime.datetime.fromtimestamp(event.stripe_created, tz=datetime.UTC),
        },
    )
    if not created and (not is_refund or amount <= reversal.amount_cents):
        return f"{kind} {obj['id']} already recorded ({reversal.amount_cents} cents)"
    if not created:  # a further partial refund of the same charge
        reversal.amount_cents = amount
        reversal.occurred_at = datetime.datetime.fromtimestamp(event.stripe_created, tz=datetime.UTC)
        reversal.save(update_fields=["amount_cents", "occurred_at"])
    keys = Q(pk__in=[])
    if reversal.stripe_charge_id:
        keys |= Q(stripe_charge_id=reversal.stripe_charge_id)
    if reversal.stripe_payment_intent_id:
        keys |= Q(stripe_payment_intent_id=reversal.stripe_payment_intent_id)
    payments = list(Payment.objects.select_for_update().filter(keys))
    if not payments:
        return f"{kind} of {amount} cents recorded; its payment is not known yet"
    voided = 0
    for payment in payments:
        _shrunk(payment)
        reason = "" if payment.is_reversed else payment_void_reason(payment)
        if reason:
            payment_reversed(payment=payment, reason=reason)
            voided += 1
    return f"{kind} of {amount} cents: {voided} of {len(payments)} payment(s) no longer qualify"


def _on_subscription(subscription: dict[str, Any], event: StripeEvent) -> str:
    practice = _practice_for_customer(subscription.get("customer"))
    account = PracticeAccount.objects.select_for_update().get(practice=practice)
    if event.stripe_created < account.subscription_event_created:
        return "older than the state already applied: ignored"
    status = str(subscription.get("status") or "")
    subscription_id = _stripe_id(subscription.get("id"))
    current = account.stripe_subscription_id
    if current and subscription_id != current and account.subscription_status in PAID_SUBSCRIPTION_STATUSES:
        # Another subscription of this customer (say, a stray second checkout) must not move the
        # plan of the one in force; staff see it in the inbox note.
        return f"subscription {subscription_id} is not the practice's current one ({current}): ignored"
    items = (subscription.get("items") or {}).get("data") or []
    price_id = ((items[0].get("price") or {}).get("id") if items else "") or ""
    period_end = (items[0].get("current_period_end") if items else None) or subscription.get("current_period_end")
    if event.type == "customer.subscription.deleted" or status not in PAID_SUBSCRIPTION_STATUSES:
        plan = plan_freemium()
    else:
        plan = Plan.objects.filter(stripe_price_id=price_id).first() or account.plan
    account.plan = plan
    account.stripe_subscription_id = subscription_id
    account.subscription_status = status
    account.current_period_end = datetime.datetime.fromtimestamp(period_end, tz=datetime.UTC) if period_end else None
    account.subscription_event_created = event.stripe_created
    account.save()
    return f"plan {plan.code}, subscription {status}"


def _on_checkout_completed(session: dict[str, Any], event: StripeEvent) -> str:
    practice_id = session.get("client_reference_id")
    customer_id = session.get("customer")
    if not practice_id or not str(practice_id).isdigit() or not customer_id:
        return "no practice reference"
    updated = PracticeAccount.objects.filter(practice_id=int(practice_id), stripe_customer_id__isnull=True).update(
        stripe_customer_id=customer_id
    )
    return "customer linked" if updated else "customer already linked"


def _on_card_seen(obj: dict[str, Any], event: StripeEvent) -> str:
    """A charge, payment intent or payment method: remember the card, apply the same-card rule."""
    practice = _practice_for_customer(_stripe_id(obj.get("customer")))
    new = cards.cards_record(practice=practice, cards=cards.cards_in(obj))
    if not new:
        return "no new card"
    notes = handoffs.cards_recorded.send(handoffs.CardsRecorded(practice_id=practice.pk, new_cards=new))
    return "; ".join([f"{new} card(s) recorded", *notes])


EVENT_HANDLERS: dict[str, Any] = {
    "invoice.paid": _on_invoice_paid,
    "invoice.payment_succeeded": _on_invoice_paid,  # the same change, reported twice by Stripe
    "invoice_payment.paid": _on_invoice_payment_paid,
    "charge.refunded": lambda obj, event: _on_reversal(PaymentReversal.Kind.REFUND, obj, event),
    "charge.dispute.created": lambda obj, event: _on_reversal(PaymentReversal.Kind.DISPUTE, obj, event),
    "customer.subscription.created": _on_subscription,
    "customer.subscription.updated": _on_subscription,
    "customer.subscription.deleted": _on_subscription,
    "checkout.session.completed": _on_checkout_completed,
    "charge.succeeded": _on_card_seen,
    "payment_intent.succeeded": _on_card_seen,
    "payment_method.attached": _on_card_seen,
}
