"""What rewards hands to the layer above it (integrations: outbound webhooks), registered in that
app's `AppConfig.ready()` (dentaltap/handoffs.py). Each is sent inside the transaction that
makes the change, so what a receiver writes (an outbox row) commits or rolls back with it:

- `reward_earned`: a reward was credited (money on the beneficiary's Stripe balance and ledger,
  or points on the recipient's points ledger), once per reward;
- `reward_reversed`: a credited reward was clawed back (its qualifying payment refunded or
  disputed), once per reward;
- `points_redeemed`: points were spent on a catalogue item (a new redemption, not a retry);
- `referral_converted`: a referred practice's first standing payment set the referral's
  `converted_at` (again if a refund moved it to a later payment).

With nothing registered rewards works alone."""

from __future__ import annotations

from dataclasses import dataclass

from dentaltap.handoffs import Handoff


@dataclass(frozen=True)
class RewardEarned:
    reward_id: int


@dataclass(frozen=True)
class RewardReversed:
    reward_id: int
    amount_cents: int  # what was taken back (0 for points, or when refunds had lowered it to nothing)


@dataclass(frozen=True)
class PointsRedeemed:
    redemption_id: int


@dataclass(frozen=True)
class ReferralConverted:
    referral_id: int


reward_earned: Handoff[RewardEarned] = Handoff("rewards.reward_earned")
reward_reversed: Handoff[RewardReversed] = Handoff("rewards.reward_reversed")
points_redeemed: Handoff[PointsRedeemed] = Handoff("rewards.points_redeemed")
referral_converted: Handoff[ReferralConverted] = Handoff("rewards.referral_converted")
