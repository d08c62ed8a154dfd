"""Billing: Stripe customers and checkout, the webhook inbox, event processing, referral rewards
and the credit ledger.

Money rules:
- the inbox stores each Stripe event once (unique event id) and processing is keyed on the
  Stripe object too (invoice id, charge/dispute id), so duplicates and replays change nothing;
- one reward per referral, one ledger credit and at most one clawback per reward: database
  constraints, which the code relies on;
- Stripe is called outside any open transaction, with an idempotency key derived from the reward,
  so a task that dies after the call and runs again gets the same balance transaction back.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import cards, stripe_gateway, webhooks
from billing.models import (
    LedgerEntry,
    LedgerKind,
    Payment,
    PaymentReversal,
    Plan,
    PracticeAccount,
    ReferralProgram,
    Reward,
    RewardAction,
    RewardStatus,
    StripeEvent,
    StripeEventStatus,
)
from billing.webhooks import WebhookRejected  # noqa: F401 - re-exported: callers catch it here
from dentaltap.errors import ApplicationError
from tenants.models import Membership, MembershipStatus, Practice, Role, User
from tenants.selectors import home_practice

logger = logging.getLogger(__name__)

# An event whose processing raised this many times is marked failed (visible in the admin, where
# staff can queue it again) instead of being retried forever.
MAX_EVENT_ATTEMPTS = 8
PAID_SUBSCRIPTION_STATUSES = ("active", "trialing", "past_due")
# Refunds adding up to this share of the qualifying payment (or more) void its referral reward.
REFUND_VOID_PERCENT = 50
FINAL_REWARD_STATUSES = {RewardStatus.CREDITED, RewardStatus.CANCELLED, RewardStatus.REJECTED, RewardStatus.CLAWED_BACK}


class UnknownCustomer(Exception):
    """An event about a Stripe customer that is not one of our practices."""


def in_open_transaction() -> bool:
    """True inside a transaction the code opened (a test case's own wrapping one does not count:
    it stands for the request or task boundary)."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


# --------------------------------------------------------------------------- plans and accounts


def plan_freemium() -> Plan:
    return Plan.objects.get(is_freemium=True)


def account_for(practice: Practice) -> PracticeAccount:
    """The practice's billing account, created on the freemium plan when first needed."""
    account = PracticeAccount.objects.select_related("plan").filter(practice=practice).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return PracticeAccount.objects.create(practice=practice, plan=plan_freemium())
    except IntegrityError:
        return PracticeAccount.objects.select_related("plan").get(practice=practice)


def _practice_owner_email(practice: Practice) -> str:
    owner = (
        Membership.objects.filter(practice=practice, role=Role.OWNER, status=MembershipStatus.ACTIVE)
        .select_related("user")
        .order_by("created_at")
        .first()
    )
    return owner.user.email if owner else ""


def stripe_customer_ensure(*, practice: Practice) -> str:
    """The practice's Stripe customer id, creating the customer on first need. Call outside a
    transaction: it talks to Stripe. Safe under concurrency: the create carries a fixed
    idempotency key per practice, so two callers get the same customer."""
    if in_open_transaction():
        raise RuntimeError("stripe_customer_ensure talks to Stripe: call it outside a transaction")
    account = account_for(practice)
    if account.stripe_customer_id:
        return account.stripe_customer_id
    customer_id = stripe_gateway.customer_create(
        practice_id=practice.pk, name=practice.name, email=_practice_owner_email(practice)
    )
    PracticeAccount.objects.filter(pk=account.pk, stripe_customer_id__isnull=True).update(
        stripe_customer_id=customer_id
    )
    return PracticeAccount.objects.values_list("stripe_customer_id", flat=True).get(pk=account.pk) or customer_id


def checkout_start(*, practice: Practice, plan_code: str, success_url: str, cancel_url: str) -> str:
    """A Stripe Checkout URL for upgrading the practice to a paid plan."""
    plan = Plan.objects.filter(code=plan_code, is_active=True, is_freemium=False).first()
    if plan is None:
        raise ApplicationError(_("There is no such plan to upgrade to."), code="unknown_plan", status_code=404)
    account = account_for(practice)
    if has_live_subscription(account):
        # One subscription per practice: plan changes and payment details go through the portal.
        raise ApplicationError(
            _("This practice already has a subscription. Change plans under “Manage payment details”."),
            code="already_subscribed",
            status_code=409,
        )
    customer_id = stripe_customer_ensure(practice=practice)
    return stripe_gateway.checkout_session_create(
        practice_id=practice.pk,
        customer_id=customer_id,
        price_id=plan.stripe_price_id,
        success_url=success_url,
        cancel_url=cancel_url,
        # One key per click: the SDK's own retries of this call reuse it.
        idempotency_key=f"dentaltap-checkout-{practice.pk}-{plan.code}-{uuid.uuid4()}",
    )


def has_live_subscription(account: PracticeAccount) -> bool:
    return bool(account.stripe_subscription_id) and account.subscription_status in (
        *PAID_SUBSCRIPTION_STATUSES,
        "incomplete",
    )


def billing_portal_start(*, practice: Practice, return_url: str) -> str:
    account = account_for(practice)
    if not account.stripe_customer_id:
        raise ApplicationError(_("This practice has no payment details yet. Choose a plan first."), code="no_customer")
    return stripe_gateway.billing_portal_session_create(
        customer_id=account.stripe_customer_id,
        return_url=return_url,
        idempotency_key=f"dentaltap-portal-{uuid.uuid4()}",
    )


def credit_balance_cents(*, practice: Practice) -> int:
    return LedgerEntry.objects.filter(practice=practice).aggregate(total=Sum("amount_cents"))["total"] or 0


# --------------------------------------------------------------------------- the webhook inbox


def webhook_receive(*, payload: bytes, signature: str | None) -> tuple[StripeEvent, bool]:
    """Verify and store a Stripe event in the inbox; processing runs in a task after commit.
    Returns the stored event and whether it was new (a duplicate changes nothing). A body that
    is not a sound, signed Stripe event is refused (billing/webhooks.py) and stores nothing."""
    envelope = webhooks.envelope_read(payload=payload, signature=signature)

    from billing.tasks import stripe_event_process  # noqa: PLC0415 - tasks import this module

    with transaction.atomic():
        stored, created = StripeEvent.objects.get_or_create(
            stripe_event_id=envelope.event_id,
            defaults={
                "type": envelope.type,
                "livemode": envelope.livemode,
                "api_version": envelope.api_version,
                "stripe_created": envelope.created,
                "object_id": envelope.object_id,
                "payload": envelope.payload,
            },
        )
        if created:
            # robust: with Redis down the event is safe in the inbox; the relay picks it up.
            transaction.on_commit(lambda: stripe_event_process.delay(stored.pk), robust=True)
    return stored, created


# --------------------------------------------------------------------------- event processing


def stripe_event_process(*, event_pk: int) -> str:  # noqa: PLR0911 - one exit per outcome
    """Apply one stored event. Safe to run twice and in any order relative to other events."""
    with transaction.atomic():
        StripeEvent.objects.filter(pk=event_pk).update(attempts=F("attempts") + 1)
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().filter(pk=event_pk).first()
        if event is None:  # deleted by staff since it was queued: nothing to do
            return "missing"
        if event.status != StripeEventStatus.PENDING:
            return event.status
        if event.livemode != settings.STRIPE_LIVEMODE:
            return _finish(event, StripeEventStatus.IGNORED, "livemode does not match this deployment")
        handler = EVENT_HANDLERS.get(event.type)
        if handler is None:
            return _finish(event, StripeEventStatus.IGNORED, "event type not handled")
        try:
            with transaction.atomic():  # a savepoint: a failing handler leaves nothing behind
                note = handler(event.payload["data"]["object"], event)
        except UnknownCustomer as error:
            return _finish(event, StripeEventStatus.IGNORED, f"unknown customer: {error}")
        except Exception as error:
            if event.attempts < MAX_EVENT_ATTEMPTS:
                raise  # retried by the task, then by the relay
            logger.exception("Stripe event %s failed %s times", event.stripe_event_id, event.attempts)
            return _finish(event, StripeEventStatus.FAILED, f"{type(error).__name__}: {error}")
        return _finish(event, StripeEventStatus.PROCESSED, note)


def _finish(event: StripeEvent, status: str, note: str) -> str:
    event.status, event.note, event.processed_at = status, note[:300], timezone.now()
    event.save(update_fields=["status", "note", "processed_at"])
    return status


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


def _payments_lock() -> None:
    """Payments, refunds and disputes are applied one at a time: a refund processed at the same
    moment as its payment must see it (or be seen by it), never slip between them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('billing:payments'))")


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


def _payment_reversed(payment: Payment, reason: str) -> None:
    payment.is_reversed = True
    payment.save(update_fields=["is_reversed"])
    for reward in Reward.objects.select_for_update().filter(qualifying_payment=payment):
        reward_reverse(reward=reward, reason=reason)


def _on_invoice_paid(invoice: dict[str, Any], event: StripeEvent) -> str:
    practice = _practice_for_customer(invoice.get("customer"))
    amount = int(invoice.get("amount_paid") or 0)
    if invoice.get("status") not in (None, "paid") or amount <= 0:
        return "invoice not paid or zero amount: does not qualify a referral"
    _payments_lock()
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
    if payment_void_reason(payment):  # refunded or disputed before this event arrived
        payment.is_reversed = True
        payment.save(update_fields=["is_reversed"])
    return referral_qualify(payment=payment)


def _on_invoice_payment_paid(invoice_payment: dict[str, Any], event: StripeEvent) -> str:
    """Newer API versions: which charge / payment intent paid an invoice (for refund matching)."""
    _payments_lock()
    payment = (
        Payment.objects.select_for_update().filter(stripe_invoice_id=_stripe_id(invoice_payment.get("invoice"))).first()
    )
    if payment is None:
        return "kept in the inbox until its invoice.paid arrives"
    paid_by = invoice_payment.get("payment") or {}
    payment.stripe_charge_id = payment.stripe_charge_id or _stripe_id(paid_by.get("charge"))
    payment.stripe_payment_intent_id = payment.stripe_payment_intent_id or _stripe_id(paid_by.get("payment_intent"))
    payment.save(update_fields=["stripe_charge_id", "stripe_payment_intent_id"])
    reason = "" if payment.is_reversed else payment_void_reason(payment)
    if reason:
        _payment_reversed(payment, reason)
        return "payment linked; it was already refunded or disputed"
    return "payment linked to its charge"


def _reversals_for(payment: Payment) -> list[PaymentReversal]:
    keys = Q(pk__in=[])
    if payment.stripe_charge_id:
        keys |= Q(stripe_charge_id=payment.stripe_charge_id)
    if payment.stripe_payment_intent_id:
        keys |= Q(stripe_payment_intent_id=payment.stripe_payment_intent_id)
    return list(PaymentReversal.objects.filter(keys))


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


def _on_reversal(kind: str, obj: dict[str, Any], event: StripeEvent) -> str:
    """A refund (charge.refunded: one per refund, each carrying the charge's running total in
    `amount_refunded`, in any order) or a dispute. One row per charge or dispute; for refunds it
    keeps the highest total reported, so a late, older report never lowers it."""
    is_refund = kind == PaymentReversal.Kind.REFUND
    amount = int((obj.get("amount_refunded") if is_refund else obj.get("amount")) or 0)
    if is_refund and amount <= 0:
        return "nothing refunded"
    _payments_lock()
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
        reason = "" if payment.is_reversed else payment_void_reason(payment)
        if reason:
            _payment_reversed(payment, reason)
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
    held = [
        reward_hold_for_new_signal(referral_id=r.pk)
        for r in cards.referrals_touching(practice=practice)
        if cards.same_card_flag(referral=r)
    ]
    return f"{new} card(s) recorded; same card as the referrer's practice on {len(held)} referral(s)"


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


# --------------------------------------------------------------------------- rewards


def program_current() -> ReferralProgram:
    program = ReferralProgram.objects.filter(is_active=True).order_by("-created_at").first()
    return program or ReferralProgram.objects.create()


def _reward_log(
    reward: Reward, to_status: str, note: str = "", actor: User | None = None, from_status: str | None = None
) -> None:
    RewardAction.objects.create(
        reward=reward,
        actor=actor,
        from_status=from_status if from_status is not None else "",
        to_status=to_status,
        note=note[:300],
    )


def reward_hold_for_new_signal(*, referral_id: int) -> str:
    """A new fraud signal made the referral high risk (the same card, reported after the reward
    was created): a reward still waiting is held for staff; one already on its way to Stripe
    or credited is left, with a note in its log for staff to decide."""
    from referrals.models import Eligibility, Referral  # noqa: PLC0415

    referral = Referral.objects.get(pk=referral_id)
    reward = Reward.objects.select_for_update().filter(referral_id=referral_id).first()
    if reward is None or referral.eligibility != Eligibility.REVIEW:
        return "no reward to hold"
    why = referral.get_eligibility_reason_display()
    if reward.status == RewardStatus.PENDING:
        reward.status, reward.reason = RewardStatus.ON_HOLD, _("Held for review: %(why)s") % {"why": why}
        reward.save(update_fields=["status", "reason", "updated_at"])
        _reward_log(reward, RewardStatus.ON_HOLD, referral.eligibility_note, from_status=RewardStatus.PENDING)
        return RewardStatus.ON_HOLD
    if reward.status not in (RewardStatus.CANCELLED, RewardStatus.REJECTED, RewardStatus.ON_HOLD):
        note = f"{why}: seen while the reward was {reward.status}; for staff to decide. {referral.eligibility_note}"
        _reward_log(reward, reward.status, note, from_status=reward.status)
    return reward.status


def referral_qualify(*, payment: Payment) -> str:
    """The referred practice paid: create its referral's reward (one per referral, ever)."""
    from referrals.models import Eligibility, Referral  # noqa: PLC0415 - referrals is a later layer

    referral = Referral.objects.select_for_update().filter(referred_practice=payment.practice).first()
    if referral is None:
        return "paid; the practice was not referred"
    if Reward.objects.filter(referral=referral).exists():
        return "paid; the referral was already rewarded"
    if referral.eligibility == Eligibility.INELIGIBLE:
        return f"paid; referral not eligible ({referral.eligibility_reason})"
    beneficiary = home_practice(user=referral.referrer)
    if beneficiary is None:
        return "paid; the referrer owns no practice to credit"
    if cards.same_card_flag(referral=referral):  # the card was reported before this invoice
        referral.refresh_from_db()
    program = program_current()
    status, reason = RewardStatus.PENDING, ""
    if referral.eligibility == Eligibility.REVIEW:
        status, reason = (
            RewardStatus.ON_HOLD,
            _("Held for review: %(why)s") % {"why": referral.get_eligibility_reason_display()},
        )
    year_ago = timezone.now() - datetime.timedelta(days=365)
    earned = Reward.objects.filter(referrer=referral.referrer, created_at__gte=year_ago).exclude(
        status__in=[RewardStatus.CANCELLED, RewardStatus.REJECTED]
    )
    if earned.count() >= program.yearly_cap_per_referrer:
        status, reason = (
            RewardStatus.CANCELLED,
            _("Yearly limit of %(cap)s rewards reached.") % {"cap": program.yearly_cap_per_referrer},
        )
    if payment.is_reversed:
        status, reason = (
            RewardStatus.CANCELLED,
            payment_void_reason(payment) or _("The qualifying payment was refunded or disputed."),
        )
    try:
        with transaction.atomic():
            reward = Reward.objects.create(
                referral=referral,
                referrer=referral.referrer,
                beneficiary_practice=beneficiary,
                qualifying_payment=payment,
                program=program,
                amount_cents=program.reward_cents,
                currency=program.currency,
                status=status,
                reason=reason,
                hold_until=payment.paid_at + datetime.timedelta(days=program.hold_days),
            )
    except IntegrityError:
        return "paid; the referral was already rewarded"
    _reward_log(reward, status, reason or "qualified by first payment")
    if status == RewardStatus.PENDING and reward.hold_until <= timezone.now():
        _credit_after_commit(reward.pk)
    return f"referral qualified: reward {reward.pk} {status}"


def _credit_after_commit(reward_pk: int) -> None:
    from billing.tasks import reward_credit  # noqa: PLC0415

    transaction.on_commit(lambda: reward_credit.delay(reward_pk), robust=True)


def _clawback_after_commit(reward_pk: int) -> None:
    from billing.tasks import reward_clawback  # noqa: PLC0415

    transaction.on_commit(lambda: reward_clawback.delay(reward_pk), robust=True)


def reward_reverse(*, reward: Reward, reason: str) -> None:
    """The qualifying payment was refunded or disputed: cancel inside the hold, claw back after.
    Call with the reward row locked."""
    previous = reward.status
    reward.reason = reason
    if previous == RewardStatus.CREDITED:
        reward.save(update_fields=["reason", "updated_at"])
        _clawback_after_commit(reward.pk)
    elif previous == RewardStatus.CREDITING:
        # The run in flight (or, if it died, its retry) sees the reversal and claws back.
        reward.save(update_fields=["reason", "updated_at"])
    elif previous in (RewardStatus.PENDING, RewardStatus.ON_HOLD) and reward.attempts == 0:
        reward.status = RewardStatus.CANCELLED  # nothing ever reached Stripe
        reward.save(update_fields=["status", "reason", "updated_at"])
        _reward_log(reward, RewardStatus.CANCELLED, reason, from_status=previous)
    elif previous not in FINAL_REWARD_STATUSES:
        # An earlier credit attempt failed, or seemed to: Stripe may have applied it anyway.
        # reward_credit asks Stripe, then cancels or records the credit and claws it back.
        reward.status = RewardStatus.FAILED
        reward.save(update_fields=["status", "reason", "updated_at"])
        _reward_log(reward, RewardStatus.FAILED, reason, from_status=previous)
        _credit_after_commit(reward.pk)


def rewards_release_due(*, limit: int = 500) -> int:
    """Queue the credit of every reward whose hold period is over."""
    due = list(
        Reward.objects.filter(status=RewardStatus.PENDING, hold_until__lte=timezone.now()).values_list("pk", flat=True)[
            :limit
        ]
    )
    # A credit still in flight this long was lost with its worker (see docs/architecture.md).
    stale = timezone.now() - datetime.timedelta(seconds=settings.REWARD_CREDITING_STALE_SECONDS)
    due += list(
        Reward.objects.filter(status=RewardStatus.CREDITING, updated_at__lt=stale).values_list("pk", flat=True)[:limit]
    )
    from billing.tasks import reward_clawback, reward_credit  # noqa: PLC0415

    for pk in due:
        reward_credit.delay(pk)
    owed = list(
        Reward.objects.filter(status=RewardStatus.CREDITED, qualifying_payment__is_reversed=True).values_list(
            "pk", flat=True
        )[:limit]
    )
    for pk in owed:  # clawbacks whose first queueing was lost or whose retries ran out
        reward_clawback.delay(pk)
    return len(due) + len(owed)


@transaction.atomic
def rewards_hold_shorten(*, actor: User | None = None) -> int:
    """After the referral program changed: bring every reward still in its hold forward to what
    the current program's hold gives (qualifying payment + hold days) when that is sooner, and
    queue the credit of those now due. Never later: a date promised to a referrer is kept, and
    a longer hold applies to rewards earned from then on. Each change is in the reward's log."""
    program = program_current()
    now = timezone.now()
    waiting = (
        Reward.objects.select_for_update(of=("self",))
        .select_related("qualifying_payment")
        .filter(status__in=[RewardStatus.PENDING, RewardStatus.ON_HOLD], hold_until__gt=now)
    )
    shortened = 0
    for reward in waiting:
        due = reward.qualifying_payment.paid_at + datetime.timedelta(days=program.hold_days)
        if due >= reward.hold_until:
            continue
        reward.hold_until = due
        reward.save(update_fields=["hold_until", "updated_at"])
        note = f"hold now {program.hold_days} days ({program.name}): due {due:%Y-%m-%d %H:%M} UTC"
        _reward_log(reward, reward.status, note, actor=actor, from_status=reward.status)
        if reward.status == RewardStatus.PENDING and due <= now:
            _credit_after_commit(reward.pk)
        shortened += 1
    return shortened


def reward_credit(*, reward_pk: int) -> str:  # noqa: PLR0911 - one exit per outcome
    """Credit a due reward: a Stripe customer balance transaction of -amount (it lowers the next
    invoice) and one ledger entry. Runs in three steps so Stripe is never called inside a
    transaction; every step is safe to repeat.

    A run after an earlier attempt (a retry, a killed worker, a staff retry of a failed credit)
    first asks Stripe whether that attempt already went through (balance transactions carry the
    reward id in their metadata): idempotency keys only last a day at Stripe, and a timeout can
    hide a success. If the qualifying payment was reversed meanwhile, a credit that never reached
    Stripe is cancelled, and one that did is recorded and then clawed back."""
    with transaction.atomic():
        reward = Reward.objects.select_for_update().select_related("qualifying_payment").get(pk=reward_pk)
        if reward.status in FINAL_REWARD_STATUSES or reward.status == RewardStatus.ON_HOLD:
            return reward.status
        if reward.status == RewardStatus.PENDING and reward.hold_until > timezone.now():
            return "not due"
        if reward.status == RewardStatus.PENDING and cards.same_card_flag(referral=reward.referral):
            return reward_hold_for_new_signal(referral_id=reward.referral_id)  # the last look before Stripe
        reversed_payment = reward.qualifying_payment.is_reversed
        earlier_attempt = reward.attempts > 0
        if reversed_payment and not earlier_attempt:
            reward_reverse(reward=reward, reason=_("The qualifying payment was refunded or disputed."))
            return reward.status
        previous = reward.status
        reward.status, reward.attempts = RewardStatus.CREDITING, reward.attempts + 1
        reward.save(update_fields=["status", "attempts", "updated_at"])
        if previous != RewardStatus.CREDITING:
            _reward_log(reward, RewardStatus.CREDITING, from_status=previous)

    customer_id = stripe_customer_ensure(practice=reward.beneficiary_practice)
    metadata = {"reward_id": str(reward.pk), "referral_id": str(reward.referral_id), "kind": "credit"}
    transaction_id = (
        stripe_gateway.customer_balance_find(customer_id=customer_id, metadata=metadata) if earlier_attempt else None
    )
    if transaction_id is None and reversed_payment:
        with transaction.atomic():
            reward = Reward.objects.select_for_update().get(pk=reward_pk)
            reward.status, reward.reason = RewardStatus.CANCELLED, _("The qualifying payment was refunded or disputed.")
            reward.save(update_fields=["status", "reason", "updated_at"])
            _reward_log(reward, RewardStatus.CANCELLED, reward.reason, from_status=RewardStatus.CREDITING)
        return RewardStatus.CANCELLED
    if transaction_id is None:
        transaction_id = stripe_gateway.customer_balance_adjust(
            customer_id=customer_id,
            amount_cents=-reward.amount_cents,
            currency=reward.currency,
            idempotency_key=f"dentaltap-reward-{reward.pk}-credit",
            description=f"DentalTap referral reward #{reward.pk}",
            metadata=metadata,
        )

    with transaction.atomic():
        reward = Reward.objects.select_for_update().select_related("qualifying_payment").get(pk=reward_pk)
        if reward.status not in (RewardStatus.CREDITING, RewardStatus.FAILED):
            return reward.status  # another run finished it
        LedgerEntry.objects.get_or_create(
            reward=reward,
            kind=LedgerKind.REWARD_CREDIT,
            defaults={
                "practice_id": reward.beneficiary_practice_id,
                "amount_cents": reward.amount_cents,
                "currency": reward.currency,
                "description": f"Referral reward #{reward.pk}",
                "stripe_balance_transaction_id": transaction_id,
            },
        )
        previous = reward.status
        reward.status, reward.credited_at = RewardStatus.CREDITED, timezone.now()
        reward.stripe_balance_transaction_id, reward.last_error = transaction_id, ""
        reward.save(
            update_fields=["status", "credited_at", "stripe_balance_transaction_id", "last_error", "updated_at"]
        )
        _reward_log(reward, RewardStatus.CREDITED, f"Stripe {transaction_id}", from_status=previous)
        if reward.qualifying_payment.is_reversed:
            _clawback_after_commit(reward.pk)
    return RewardStatus.CREDITED


def reward_credit_failed(*, reward_pk: int, error: str) -> None:
    """Retries are exhausted (or Stripe refused): a visible failed state staff can retry."""
    with transaction.atomic():
        reward = Reward.objects.select_for_update().get(pk=reward_pk)
        if reward.status == RewardStatus.CREDITED:  # a clawback that keeps failing: stay visible
            reward.last_error = f"clawback: {error}"[:500]
            reward.save(update_fields=["last_error", "updated_at"])
            _reward_log(reward, RewardStatus.CREDITED, f"clawback failed: {error}", from_status=RewardStatus.CREDITED)
            return
        if reward.status in FINAL_REWARD_STATUSES:
            return
        previous = reward.status
        reward.status, reward.last_error = RewardStatus.FAILED, error[:500]
        reward.save(update_fields=["status", "last_error", "updated_at"])
        _reward_log(reward, RewardStatus.FAILED, error, from_status=previous)


def reward_clawback(*, reward_pk: int) -> str:
    """Take a credited reward back: a reversing ledger entry and a positive balance transaction.
    Only when its qualifying payment no longer qualifies (a small partial refund owes nothing)."""
    with transaction.atomic():
        reward = Reward.objects.select_for_update().select_related("qualifying_payment").get(pk=reward_pk)
        if reward.status != RewardStatus.CREDITED or not reward.qualifying_payment.is_reversed:
            return reward.status
    customer_id = stripe_customer_ensure(practice=reward.beneficiary_practice)
    metadata = {"reward_id": str(reward.pk), "referral_id": str(reward.referral_id), "kind": "clawback"}
    transaction_id = stripe_gateway.customer_balance_find(
        customer_id=customer_id, metadata=metadata
    ) or stripe_gateway.customer_balance_adjust(
        customer_id=customer_id,
        amount_cents=reward.amount_cents,
        currency=reward.currency,
        idempotency_key=f"dentaltap-reward-{reward.pk}-clawback",
        description=f"DentalTap referral reward #{reward.pk} reversed",
        metadata=metadata,
    )
    with transaction.atomic():
        reward = Reward.objects.select_for_update().get(pk=reward_pk)
        if reward.status != RewardStatus.CREDITED:
            return reward.status
        LedgerEntry.objects.get_or_create(
            reward=reward,
            kind=LedgerKind.REWARD_CLAWBACK,
            defaults={
                "practice_id": reward.beneficiary_practice_id,
                "amount_cents": -reward.amount_cents,
                "currency": reward.currency,
                "description": f"Referral reward #{reward.pk} reversed",
                "stripe_balance_transaction_id": transaction_id,
            },
        )
        reward.status = RewardStatus.CLAWED_BACK
        reward.save(update_fields=["status", "updated_at"])
        _reward_log(
            reward, RewardStatus.CLAWED_BACK, reward.reason or "payment reversed", from_status=RewardStatus.CREDITED
        )
    return RewardStatus.CLAWED_BACK


# --------------------------------------------------------------------------- staff review


@transaction.atomic
def reward_review(*, reward_pk: int, decision: str, actor: User, note: str = "") -> Reward:
    """Staff decisions from the admin: approve (release now), hold, reject, retry a failed credit."""
    reward = Reward.objects.select_for_update().get(pk=reward_pk)
    previous = reward.status
    if decision == "hold" and reward.status in (RewardStatus.PENDING, RewardStatus.FAILED):
        reward.status = RewardStatus.ON_HOLD
    elif decision == "reject" and reward.status in (RewardStatus.PENDING, RewardStatus.ON_HOLD, RewardStatus.FAILED):
        reward.status = RewardStatus.REJECTED
    elif decision in ("approve", "retry") and reward.status in (RewardStatus.ON_HOLD, RewardStatus.FAILED):
        reward.status = RewardStatus.PENDING
    else:
        raise ApplicationError(
            _("Cannot %(decision)s a reward that is %(status)s.")
            % {"decision": decision, "status": reward.get_status_display()},
            code="invalid_transition",
        )
    reward.reason = note or reward.reason
    reward.save(update_fields=["status", "reason", "updated_at"])
    _reward_log(reward, reward.status, note or f"staff: {decision}", actor=actor, from_status=previous)
    if reward.status == RewardStatus.PENDING and reward.hold_until <= timezone.now():
        _credit_after_commit(reward.pk)
    return reward


def stripe_events_relay(*, older_than_seconds: int = 30, limit: int = 500) -> int:
    """Queue events still pending a while after they arrived (the broker was down when they
    came, or a worker died). Processing is idempotent, so a duplicate queueing is harmless."""
    from billing.tasks import stripe_event_process  # noqa: PLC0415

    cutoff = timezone.now() - datetime.timedelta(seconds=older_than_seconds)
    pending = list(
        StripeEvent.objects.filter(
            status=StripeEventStatus.PENDING, received_at__lt=cutoff, attempts__lt=MAX_EVENT_ATTEMPTS
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in pending:
        stripe_event_process.delay(pk)
    return len(pending)
