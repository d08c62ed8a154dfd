"""Crediting a due reward to the referrer's practice, and clawing a credited one back: a Stripe
customer balance transaction (billing's gateway, called outside any transaction, with an
idempotency key derived from the reward) and one ledger entry (billing's ledger: one credit and
at most one clawback per reward, by database constraint). Every step is safe to repeat, so a
task that dies after the Stripe call and runs again gets the same balance transaction back."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import stripe_gateway
from billing.models import LedgerKind
from billing.services import ledger_entry_record, stripe_customer_ensure
from referrals import same_card
from rewards.models import Reward, RewardStatus
from rewards.services import (
    FINAL_REWARD_STATUSES,
    clawback_after_commit,
    reward_hold_for_new_signal,
    reward_log,
    reward_reverse,
)


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
        if reward.status == RewardStatus.PENDING and same_card.same_card_flag(referral=reward.referral):
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
            reward_log(reward, RewardStatus.CREDITING, from_status=previous)

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
            reward_log(reward, RewardStatus.CANCELLED, reward.reason, from_status=RewardStatus.CREDITING)
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
        ledger_entry_record(
            practice_id=reward.beneficiary_practice_id,
            reward_id=reward.pk,
            kind=LedgerKind.REWARD_CREDIT,
            amount_cents=reward.amount_cents,
            currency=reward.currency,
            description=f"Referral reward #{reward.pk}",
            stripe_balance_transaction_id=transaction_id,
        )
        previous = reward.status
        reward.status, reward.credited_at = RewardStatus.CREDITED, timezone.now()
        reward.stripe_balance_transaction_id, reward.last_error = transaction_id, ""
        reward.save(
            update_fields=["status", "credited_at", "stripe_balance_transaction_id", "last_error", "updated_at"]
        )
        reward_log(reward, RewardStatus.CREDITED, f"Stripe {transaction_id}", from_status=previous)
        if reward.qualifying_payment.is_reversed:
            clawback_after_commit(reward.pk)
    return RewardStatus.CREDITED


def reward_credit_failed(*, reward_pk: int, error: str) -> None:
    """Retries are exhausted (or Stripe refused): a visible failed state staff can retry."""
    with transaction.atomic():
        reward = Reward.objects.select_for_update().get(pk=reward_pk)
        if reward.status == RewardStatus.CREDITED:  # a clawback that keeps failing: stay visible
            reward.last_error = f"clawback: {error}"[:500]
            reward.save(update_fields=["last_error", "updated_at"])
            reward_log(reward, RewardStatus.CREDITED, f"clawback failed: {error}", from_status=RewardStatus.CREDITED)
            return
        if reward.status in FINAL_REWARD_STATUSES:
            return
        previous = reward.status
        reward.status, reward.last_error = RewardStatus.FAILED, error[:500]
        reward.save(update_fields=["status", "last_error", "updated_at"])
        reward_log(reward, RewardStatus.FAILED, error, from_status=previous)


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
        ledger_entry_record(
            practice_id=reward.beneficiary_practice_id,
            reward_id=reward.pk,
            kind=LedgerKind.REWARD_CLAWBACK,
            amount_cents=-reward.amount_cents,
            currency=reward.currency,
            description=f"Referral reward #{reward.pk} reversed",
            stripe_balance_transaction_id=transaction_id,
        )
        reward.status = RewardStatus.CLAWED_BACK
        reward.save(update_fields=["status", "updated_at"])
        reward_log(
            reward, RewardStatus.CLAWED_BACK, reward.reason or "payment reversed", from_status=RewardStatus.CREDITED
        )
    return RewardStatus.CLAWED_BACK
