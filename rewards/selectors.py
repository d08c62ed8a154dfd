"""Reads of rewards: what the practice that earns a reward sees of it (never staff notes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from billing.handoffs import RewardLine
from dentaltap import formatting
from rewards.models import CapPeriod, PayoutMethod, Reward, RewardRecipient, RewardStatus
from tenants.models import Practice


def rewards_for_practice(*, practice: Practice) -> QuerySet[Reward]:
    """Rewards credited (or to be credited) to this practice, newest first, with what the
    customer-facing reason needs (reward_reason_for_customer). Not an affiliate's cash rewards:
    they never touch the practice's balance (rewards.statements)."""
    return (
        Reward.objects.filter(beneficiary_practice=practice)
        .exclude(payout=PayoutMethod.CASH)
        .select_related("referral__referred_user", "referrer", "qualifying_payment", "program", "rule")
        .order_by("-created_at")
    )


REWARD_REASONS: dict[str, Any] = {
    RewardStatus.ON_HOLD: gettext_lazy(
        "Our team checks this referral before crediting it. This usually takes a few days."
    ),
    RewardStatus.CREDITING: gettext_lazy("Being added to your credit balance."),
    RewardStatus.CREDITED: gettext_lazy("Added to your credit balance: it lowers your next invoice."),
    RewardStatus.FAILED: gettext_lazy(
        "Crediting is delayed. Our team has been told and will complete it; nothing is needed from you."
    ),
    RewardStatus.REJECTED: gettext_lazy("Our team reviewed this referral and it does not qualify for a reward."),
    RewardStatus.CLAWED_BACK: gettext_lazy(
        "The referred practice's payment was refunded or disputed, so the credit was reversed."
    ),
}


def reward_reason_for_customer(reward: Reward) -> str:
    """Why a reward is where it is, in plain words for the practice that earns it.

    Built from the status and the facts behind it (the payment reversed, the programme's cap),
    never from `Reward.reason`, `RewardAction.note` or `last_error`: those carry staff review
    notes, fraud signals and Stripe's error texts, which stay in the admin."""
    if reward.status == RewardStatus.PENDING and reward.hold_until <= timezone.now():
        return _("The hold period is over: the credit is on its way to your balance.")
    if reward.status == RewardStatus.PENDING:
        return _("Credited on %(date)s if the referred practice's payment stands until then.") % {
            "date": formatting.date(reward.hold_until)
        }
    if reward.status == RewardStatus.CANCELLED:
        if reward.payment_reversed:
            return _("The referred practice's payment was refunded or disputed, so no credit is due.")
        if reward.rule.cap_count is None:
            return _("Not credited: the referral programme's limit for this reward was reached.")
        cap = reward.rule.cap_count
        period = str(CapPeriod(reward.rule.cap_period).label).lower()
        return ngettext(
            "Not credited: the referral programme allows %(cap)d reward per referrer a %(period)s.",
            "Not credited: the referral programme allows %(cap)d rewards per referrer a %(period)s.",
            cap,
        ) % {"cap": cap, "period": period}
    reason = REWARD_REASONS.get(reward.status)
    return str(reason) if reason else ""


@dataclass(frozen=True)
class RewardRow:
    """A reward as its practice sees it: no staff notes, no fraud signals, no Stripe errors."""

    reward: Reward
    referred_name: str
    reason: str


def _reward_for(reward: Reward) -> str:
    """Whom a reward is for: the referred colleague, or, for the referred practice's own half of
    a two-sided reward, the referrer whose link it joined through."""
    if reward.recipient == RewardRecipient.REFERRED:
        return _("Welcome reward: you joined through %(name)s's link") % {
            "name": reward.referrer.full_name or _("a colleague")
        }
    return reward.referral.referred_user.get_full_name()


def reward_rows_for_practice(*, practice: Practice, limit: int = 50) -> list[RewardRow]:
    return [
        RewardRow(reward=reward, referred_name=_reward_for(reward), reason=reward_reason_for_customer(reward))
        for reward in rewards_for_practice(practice=practice)[:limit]
    ]


def reward_lines_for_practice(practice: Practice, limit: int) -> list[RewardLine]:
    """The practice's rewards for its Billing page and API (billing.handoffs.reward_lines)."""
    return [
        RewardLine(
            id=row.reward.pk,
            created_at=row.reward.created_at,
            referred_name=row.referred_name,
            amount_cents=row.reward.amount_cents,
            currency=row.reward.currency,
            status=row.reward.status,
            status_label=str(row.reward.get_status_display()),
            reason=row.reason,
            hold_until=row.reward.hold_until,
            credited_at=row.reward.credited_at,
            value_label=row.reward.value_label,
            received=row.reward.recipient == RewardRecipient.REFERRED,
        )
        for row in reward_rows_for_practice(practice=practice, limit=limit)
    ]
