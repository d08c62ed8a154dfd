"""Integrations' side of the hand-offs below it (referrals.handoffs, rewards.handoffs),
registered once in integrations.apps. Each runs in the sender's transaction and writes the
event to the outbox there (integrations.events)."""

from __future__ import annotations

from integrations import events
from referrals import handoffs as referral_handoffs
from referrals.handoffs import ReferralCreated
from rewards import handoffs as reward_handoffs
from rewards.handoffs import PointsRedeemed, ReferralConverted, RewardEarned, RewardReversed


def on_referral_created(event: ReferralCreated) -> None:
    events.referral_created(referral_id=event.referral_id)


def on_referral_converted(event: ReferralConverted) -> None:
    events.referral_converted(referral_id=event.referral_id)


def on_reward_earned(event: RewardEarned) -> None:
    events.reward_earned(reward_id=event.reward_id)


def on_reward_reversed(event: RewardReversed) -> None:
    events.reward_reversed(reward_id=event.reward_id, amount_cents=event.amount_cents)


def on_points_redeemed(event: PointsRedeemed) -> None:
    events.points_redeemed(redemption_id=event.redemption_id)


def register() -> None:
    referral_handoffs.referral_created.register(on_referral_created)
    reward_handoffs.referral_converted.register(on_referral_converted)
    reward_handoffs.reward_earned.register(on_reward_earned)
    reward_handoffs.reward_reversed.register(on_reward_reversed)
    reward_handoffs.points_redeemed.register(on_points_redeemed)
