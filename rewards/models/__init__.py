"""Referral rewards (public schema): the program's terms, one reward per referral, and the log of
everything that happened to each. Money is integer cents plus an ISO currency code.

The tables were created by `billing` and moved here with their rows (migrations 0001/0002):
ids, and so the Stripe idempotency keys built from them, are unchanged.

One module a subject: `programs` (programs, overrides, rules), `rewards` (rewards and their
log), `points` (ledger, catalogue, redemptions); everything is importable from here."""

from rewards.models.points import CatalogueItem, PointsEntry, PointsKind, Redemption
from rewards.models.programs import (
    PAYMENT_TRIGGERS,
    CapPeriod,
    PartnerProgram,
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
    "CapPeriod",
    "CatalogueItem",
    "PartnerProgram",
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
