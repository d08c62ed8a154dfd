"""Referral rewards (public schema): the program's terms, one reward per referral, and the log of
everything that happened to each. Money is integer cents plus an ISO currency code.

The tables were created by `billing` and moved here with their rows (migrations 0001/0002):
ids, and so the Stripe idempotency keys built from them, are unchanged.

One module a subject: `programs` (programs, overrides, rules), `rewards` (rewards and their
log), `points` (ledger, catalogue, redemptions), `affiliates` (cash revenue share: the
ledger of what each affiliate is owed, payouts included); everything is importable from here."""

from rewards.models.affiliates import PAYOUT_KINDS, REWARD_KINDS, AffiliateEntry, AffiliateEntryKind
from rewards.models.points import CatalogueItem, PointsEntry, PointsKind, Redemption
from rewards.models.programs import (
    PAYMENT_TRIGGERS,
    CapPeriod,
    PartnerProgram,
    PayoutMethod,
    ProgramOverride,
    ReferralProgram,
    RewardRecipient,
    RewardRule,
    RuleCondition,
    RuleDuration,
    RuleRecipient,
    RuleStructure,
    RuleTrigger,
    TsTzRange,
)
from rewards.models.rewards import Reward, RewardAction, RewardStatus

__all__ = [
    "PAYMENT_TRIGGERS",
    "PAYOUT_KINDS",
    "REWARD_KINDS",
    "AffiliateEntry",
    "AffiliateEntryKind",
    "CapPeriod",
    "CatalogueItem",
    "PartnerProgram",
    "PayoutMethod",
    "PointsEntry",
    "PointsKind",
    "ProgramOverride",
    "Redemption",
    "ReferralProgram",
    "Reward",
    "RewardAction",
    "RewardRecipient",
    "RewardRule",
    "RewardStatus",
    "RuleCondition",
    "RuleDuration",
    "RuleRecipient",
    "RuleStructure",
    "RuleTrigger",
    "TsTzRange",
]
