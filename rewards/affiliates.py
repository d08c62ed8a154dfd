"""Cash rewards (an affiliate's revenue share): crediting one writes the affiliate's ledger
(`AffiliateEntry`), never Stripe. Called by rewards.crediting at the same steps a Stripe credit
takes (credit after the hold, adjust on a refund or dispute, claw back when voided), each with
the reward row locked and once per reward, kind and key (database rule), so a repeat is a no-op.
Payouts are rewards.payouts; the monthly statement rewards.statements."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from rewards import handoffs
from rewards.models import AffiliateEntry, AffiliateEntryKind, Reward, RewardStatus
from rewards.services import reward_log


def affiliate_of(reward: Reward) -> int:
    return reward.recipient_user_id or reward.referrer_id


def reward_owed_cents(reward_pk: int) -> int:
    """What the affiliate's ledger holds for one reward: earned less reversed."""
    return AffiliateEntry.objects.filter(reward_id=reward_pk).aggregate(total=Sum("amount_cents"))["total"] or 0


def _entry(reward: Reward, kind: str, amount_cents: int, key: str = "") -> AffiliateEntry:
    entry, _created = AffiliateEntry.objects.get_or_create(
        reward=reward,
        kind=kind,
        key=key,
        defaults={
            "affiliate_id": affiliate_of(reward),
            "amount_cents": amount_cents,
            "currency": reward.currency,
            "note": f"Referral reward #{reward.pk}",
            "occurred_at": timezone.now(),
        },
    )
    return entry


def cash_credit(reward: Reward) -> str:
    """The hold is over: the reward is owed to the affiliate (call with the reward locked)."""
    _entry(reward, AffiliateEntryKind.EARNED, reward.amount_cents)
    previous = reward.status
    reward.status, reward.credited_at = RewardStatus.CREDITED, timezone.now()
    reward.save(update_fields=["status", "credited_at", "updated_at"])
    reward_log(reward, RewardStatus.CREDITED, "owed to the affiliate (cash payout)", from_status=previous)
    handoffs.reward_earned.send(handoffs.RewardEarned(reward_id=reward.pk))
    return RewardStatus.CREDITED


def cash_adjust(*, reward_pk: int, target: int) -> str:
    """A refund or dispute lowered a credited cash percentage reward to `target`: one reversing
    entry keyed by that worth; at zero the reward is clawed back."""
    with transaction.atomic():
        reward = Reward.objects.select_for_update().get(pk=reward_pk)
        if reward.status != RewardStatus.CREDITED:
            return reward.status
        owed = reward_owed_cents(reward_pk)
        if owed <= target:
            return "nothing to adjust"
        _entry(reward, AffiliateEntryKind.REVERSED, target - owed, key=f"to-{target}")
        reward_log(reward, reward.status, f"refund or dispute: worth {target} cents now", from_status=reward.status)
        if target <= 0:
            reward.status = RewardStatus.CLAWED_BACK
            reward.save(update_fields=["status", "updated_at"])
            reward_log(
                reward, RewardStatus.CLAWED_BACK, "refunded or disputed whole", from_status=RewardStatus.CREDITED
            )
            handoffs.reward_reversed.send(handoffs.RewardReversed(reward_id=reward.pk, amount_cents=owed))
        return f"adjusted to {target}"


def cash_clawback(reward: Reward) -> str:
    """The qualifying payment was voided: what is still owed for the reward is reversed (call
    with the reward locked). A payout already made stays made: the balance owed goes down, and
    below zero it is what the next earnings pay back."""
    owed = reward_owed_cents(reward.pk)
    if owed > 0:
        _entry(reward, AffiliateEntryKind.REVERSED, -owed, key="clawback")
    reward.status = RewardStatus.CLAWED_BACK
    reward.save(update_fields=["status", "updated_at"])
    reward_log(reward, RewardStatus.CLAWED_BACK, reward.reason or "payment reversed", from_status=RewardStatus.CREDITED)
    handoffs.reward_reversed.send(handoffs.RewardReversed(reward_id=reward.pk, amount_cents=max(owed, 0)))
    return RewardStatus.CLAWED_BACK
