"""Crediting a due reward to the referrer's practice, and clawing a credited one back: a Stripe
customer balance transaction (billing's gateway, called outside any transaction, with an
idempotency key derived from the reward) and one ledger entry (billing's ledger: one credit and
at most one clawback per reward, by database constraint). Every step is safe to repeat, so a
task that dies after the Stripe call and runs again gets the same balance transaction back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import stripe_gateway
from billing.models import LedgerEntry, LedgerKind
from billing.services import ledger_entry_record, stripe_customer_ensure
from dentaltap.locks import advisory_lock_across
from referrals import same_card
from rewards import affiliates, handoffs
from rewards.models import PointsEntry, PointsKind, Reward, RewardStatus
from rewards.services import (
    FINAL_REWARD_STATUSES,
    adjust_after_commit,
    clawback_after_commit,
    reward_hold_for_new_signal,
    reward_log,
    reward_reverse,
    reward_voided,
    reward_worth_cents,
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
        reward = Reward.objects.select_for_update(of=("self",)).select_related("qualifying_payment").get(pk=reward_pk)
        if reward.status in FINAL_REWARD_STATUSES or reward.status == RewardStatus.ON_HOLD:
            return reward.status
        if reward.status == RewardStatus.PENDING and reward.hold_until > timezone.now():
            return "not due"
        if reward.status == RewardStatus.PENDING and same_card.same_card_flag(referral=reward.referral):
            return reward_hold_for_new_signal(referral_id=reward.referral_id)  # the last look before Stripe
        reversed_payment = reward_voided(reward)
        if reward.is_points and not reversed_payment:
            return _points_credit(reward)
        if reward.is_cash and not reversed_payment:
            return affiliates.cash_credit(reward)  # the affiliate's ledger: no Stripe
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
        reward = Reward.objects.select_for_update(of=("self",)).select_related("qualifying_payment").get(pk=reward_pk)
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
        handoffs.reward_earned.send(handoffs.RewardEarned(reward_id=reward.pk))
        if reward_voided(reward):
            clawback_after_commit(reward.pk)
        elif reward_worth_cents(reward) < reward.amount_cents:
            adjust_after_commit(reward.pk)  # refunded or disputed while the credit was in flight
    return RewardStatus.CREDITED


def _points_credit(reward: Reward) -> str:
    """Points need no Stripe: one ledger entry (once per reward, database rule), in the reward's
    locked transaction."""
    PointsEntry.objects.get_or_create(
        reward=reward,
        kind=PointsKind.REWARD,
        defaults={
            "user_id": reward.recipient_user_id or reward.referrer_id,
            "points": reward.points,
            "description": f"Referral reward #{reward.pk}",
        },
    )
    previous = reward.status
    reward.status, reward.credited_at = RewardStatus.CREDITED, timezone.now()
    reward.save(update_fields=["status", "credited_at", "updated_at"])
    reward_log(reward, RewardStatus.CREDITED, f"{reward.points} points", from_status=previous)
    handoffs.reward_earned.send(handoffs.RewardEarned(reward_id=reward.pk))
    return RewardStatus.CREDITED


def _credited_net_cents(reward_pk: int) -> int:
    return LedgerEntry.objects.filter(reward_id=reward_pk).aggregate(total=Sum("amount_cents"))["total"] or 0


def reward_adjust(*, reward_pk: int) -> str:
    """Lower a credited percentage reward to its share of what the payment still pays after
    refunds and disputes: a positive balance transaction and one adjustment entry keyed by the
    reward's new worth (a cash reward: one reversing entry in the affiliate's ledger). At zero
    the reward is clawed back."""
    with _taking_back(reward_pk):
        reward = Reward.objects.select_related("qualifying_payment").get(pk=reward_pk)
        payment = reward.qualifying_payment
        if reward.status != RewardStatus.CREDITED or not reward.basis_points or payment is None:
            return reward.status
        target = reward_worth_cents(reward)
        if reward.is_cash:
            return affiliates.cash_adjust(reward_pk=reward_pk, target=target)
        credited = _credited_net_cents(reward_pk)
        if credited <= target:
            return "nothing to adjust"
        customer_id = stripe_customer_ensure(practice=reward.beneficiary_practice)
        metadata = {"reward_id": str(reward.pk), "referral_id": str(reward.referral_id), "kind": f"adjust-{target}"}
        transaction_id = stripe_gateway.customer_balance_find(
            customer_id=customer_id, metadata=metadata
        ) or stripe_gateway.customer_balance_adjust(
            customer_id=customer_id,
            amount_cents=credited - target,
            currency=reward.currency,
            idempotency_key=f"dentaltap-reward-{reward.pk}-adjust-{target}",
            description=f"DentalTap referral reward #{reward.pk} lowered (refund)",
            metadata=metadata,
        )
        with transaction.atomic():
            reward = Reward.objects.select_for_update().get(pk=reward_pk)
            ledger_entry_record(
                practice_id=reward.beneficiary_practice_id,
                reward_id=reward.pk,
                kind=LedgerKind.REWARD_ADJUSTMENT,
                amount_cents=target - credited,
                currency=reward.currency,
                description=f"Referral reward #{reward.pk} lowered (refund)",
                stripe_balance_transaction_id=transaction_id,
                adjustment_key=f"to-{target}",
            )
            reward_log(reward, reward.status, f"refund: worth {target} cents now", from_status=reward.status)
            if target <= 0 and reward.status == RewardStatus.CREDITED:
                reward.status = RewardStatus.CLAWED_BACK
                reward.save(update_fields=["status", "updated_at"])
                reward_log(
                    reward, RewardStatus.CLAWED_BACK, "refunded or disputed whole", from_status=RewardStatus.CREDITED
                )
                handoffs.reward_reversed.send(handoffs.RewardReversed(reward_id=reward.pk, amount_cents=credited))
        return f"adjusted to {target}"


@contextmanager
def _taking_back(reward_pk: int) -> Iterator[None]:
    """Adjustments and the clawback of one reward run one at a time: a lock held across the
    Stripe call (never one transaction), so each starts from the ledger the previous left. It
    lives on a connection of its own (`advisory_lock_across`), which also holds behind PgBouncer
    in transaction mode, where a session lock on this connection would not."""
    with advisory_lock_across(f"rewards:take-back:{reward_pk}"):
        yield


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
    with _taking_back(reward_pk):
        return _clawback(reward_pk)


def _clawback(reward_pk: int) -> str:
    with transaction.atomic():
        reward = Reward.objects.select_for_update(of=("self",)).select_related("qualifying_payment").get(pk=reward_pk)
        if reward.status != RewardStatus.CREDITED or not reward_voided(reward):
            return reward.status
        if reward.is_points:
            return _points_clawback(reward)
        if reward.is_cash:
            return affiliates.cash_clawback(reward)
        owed = _credited_net_cents(reward_pk)  # what was credited, less any refund adjustments
        if owed <= 0:
            reward.status = RewardStatus.CLAWED_BACK
            reward.save(update_fields=["status", "updated_at"])
            reward_log(reward, RewardStatus.CLAWED_BACK, "nothing left to take back", from_status=RewardStatus.CREDITED)
            handoffs.reward_reversed.send(handoffs.RewardReversed(reward_id=reward.pk, amount_cents=0))
            return RewardStatus.CLAWED_BACK
    customer_id = stripe_customer_ensure(practice=reward.beneficiary_practice)
    metadata = {"reward_id": str(reward.pk), "referral_id": str(reward.referral_id), "kind": "clawback"}
    transaction_id = stripe_gateway.customer_balance_find(
        customer_id=customer_id, metadata=metadata
    ) or stripe_gateway.customer_balance_adjust(
        customer_id=customer_id,
        amount_cents=owed,
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
            amount_cents=-owed,
            currency=reward.currency,
            description=f"Referral reward #{reward.pk} reversed",
            stripe_balance_transaction_id=transaction_id,
        )
        reward.status = RewardStatus.CLAWED_BACK
        reward.save(update_fields=["status", "updated_at"])
        reward_log(
            reward, RewardStatus.CLAWED_BACK, reward.reason or "payment reversed", from_status=RewardStatus.CREDITED
        )
        handoffs.reward_reversed.send(handoffs.RewardReversed(reward_id=reward.pk, amount_cents=owed))
    return RewardStatus.CLAWED_BACK


def _points_clawback(reward: Reward) -> str:
    """A points reward whose payment was reversed: a reversing entry (the balance may go below
    zero: points already spent stay spent, and the next ones earned pay the debt)."""
    PointsEntry.objects.get_or_create(
        reward=reward,
        kind=PointsKind.REWARD_REVERSED,
        defaults={
            "user_id": reward.recipient_user_id or reward.referrer_id,
            "points": -reward.points,
            "description": f"Referral reward #{reward.pk} reversed",
        },
    )
    reward.status = RewardStatus.CLAWED_BACK
    reward.save(update_fields=["status", "updated_at"])
    reward_log(reward, RewardStatus.CLAWED_BACK, reward.reason or "payment reversed", from_status=RewardStatus.CREDITED)
    handoffs.reward_reversed.send(handoffs.RewardReversed(reward_id=reward.pk, amount_cents=0))
    return RewardStatus.CLAWED_BACK
