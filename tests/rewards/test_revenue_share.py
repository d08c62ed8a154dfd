"""Revenue share for affiliates (issue 11): a percentage of every paid invoice of the referred
practice for N months, from the webhook, paid in cash (the affiliate's ledger, never Stripe),
shrunk in proportion by refunds and disputes, in whatever order they arrive."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from billing import services as billing_services
from billing.models import LedgerEntry, LedgerKind
from rewards import analytics, crediting, selectors, statements
from rewards import services as reward_services
from rewards.models import AffiliateEntry, AffiliateEntryKind, Reward, RewardStatus
from tests.billing_support import default_rule_set, post_event, process_all
from tests.rewards.revshare_support import affiliate_program, paid_on
from tests.stripe_helpers import charge_refunded, dispute_created


def _entries(reward: Reward) -> list[tuple[str, int, str]]:
    return list(AffiliateEntry.objects.filter(reward=reward).order_by("pk").values_list("kind", "amount_cents", "key"))


def _this_month_statement(referrer: Any) -> statements.AffiliateStatement:
    today = timezone.now().date()
    (statement,) = statements.affiliate_statements(first_month=today, months=1, affiliate_id=referrer.pk)
    return statement


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_an_affiliate_earns_40_percent_of_every_invoice_for_its_months_in_cash_never_at_stripe(
    referred: dict[str, Any], stripe_standin: Any
) -> None:
    affiliate_program(referred["referrer"], duration_months=2)
    post_event(paid_on(70, invoice_id="in_m1", charge="ch_m1"))
    post_event(paid_on(35, invoice_id="in_m2", charge="ch_m2"))
    post_event(paid_on(0, invoice_id="in_m3", charge="ch_m3"))  # more than 2 months after the first
    process_all()
    rewards = list(Reward.objects.order_by("pk"))
    assert [(reward.amount_cents, reward.payout, reward.status) for reward in rewards] == [
        (3960, "cash", RewardStatus.PENDING),
        (3960, "cash", RewardStatus.PENDING),
    ]
    for reward in rewards:
        for _ in range(3):  # a repeated credit adds nothing
            crediting.reward_credit(reward_pk=reward.pk)
    assert [_entries(reward) for reward in rewards] == [[(AffiliateEntryKind.EARNED, 3960, "")]] * 2
    assert set(Reward.objects.values_list("status", flat=True)) == {RewardStatus.CREDITED}
    assert not LedgerEntry.objects.exists()  # not a Stripe balance credit
    assert stripe_standin.writes("balance_transactions") == []
    # Not on the referrer practice's Billing page: nothing was added to its credit balance.
    assert selectors.reward_lines_for_practice(referred["referrer_practice"], 50) == []
    statement = _this_month_statement(referred["referrer"])
    assert (statement.opening_cents, statement.earned_cents, statement.closing_cents) == (0, 7920, 7920)


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_a_refund_of_60_percent_keeps_40_percent_of_the_share_and_a_dispute_takes_it_all(
    referred: dict[str, Any], stripe_standin: Any
) -> None:
    """Proportional, not whole: a refund of half or more voids a flat reward, but a revenue share
    is a share of what the practice still pays."""
    affiliate_program(referred["referrer"])
    post_event(paid_on(3, invoice_id="in_a", charge="ch_a"))
    post_event(paid_on(2, invoice_id="in_b", charge="ch_b"))
    process_all()
    first, second = Reward.objects.order_by("pk")
    crediting.reward_credit(reward_pk=first.pk)
    crediting.reward_credit(reward_pk=second.pk)
    post_event(charge_refunded(charge="ch_a", customer="cus_newcomer", amount=5940))
    post_event(dispute_created(charge="ch_b", dispute_id="dp_b", amount=9900))
    process_all()
    for _ in range(3):
        crediting.reward_adjust(reward_pk=first.pk)
        crediting.reward_adjust(reward_pk=second.pk)
        crediting.reward_clawback(reward_pk=first.pk)  # not voided: takes nothing more
    assert _entries(first) == [(AffiliateEntryKind.EARNED, 3960, ""), (AffiliateEntryKind.REVERSED, -2376, "to-1584")]
    assert _entries(second) == [(AffiliateEntryKind.EARNED, 3960, ""), (AffiliateEntryKind.REVERSED, -3960, "to-0")]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (RewardStatus.CREDITED, RewardStatus.CLAWED_BACK)
    statement = _this_month_statement(referred["referrer"])
    assert (statement.earned_cents, statement.reversed_cents, statement.closing_cents) == (7920, 6336, 1584)
    # Staff analytics count what the cash share cost, net of its reversals, by program and rule.
    today = timezone.localdate()
    figures = analytics.analytics_build(period_range=analytics.DateRange(today.replace(day=1), today))
    assert (figures.economics["rewards_credited_cents"], figures.economics["net_reward_cost_cents"]) == (7920, 1584)
    by_rule = {row["label"]: row["reward_cost_cents"] for row in figures.as_dict()["by_rule"]}
    assert 1584 in by_rule.values()
    # The release job's sweep of voided payments leaves a share that still stands alone.
    reward_services.rewards_release_due()
    assert _entries(first)[-1] == (AffiliateEntryKind.REVERSED, -2376, "to-1584")


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_a_stripe_credited_percentage_shrinks_in_proportion_on_a_refund_of_more_than_half(
    referred: dict[str, Any], stripe_standin: Any
) -> None:
    default_rule_set(
        trigger="paid_invoice", duration="forever", structure="percent", amount_cents=0, basis_points=3000, hold_days=0
    )
    post_event(paid_on(1, invoice_id="in_c", charge="ch_c"))
    process_all()
    (reward,) = Reward.objects.all()
    crediting.reward_credit(reward_pk=reward.pk)
    post_event(charge_refunded(charge="ch_c", customer="cus_newcomer", amount=6930))  # 70%: 30% of 29.70
    process_all()
    for _ in range(2):
        crediting.reward_adjust(reward_pk=reward.pk)
        crediting.reward_clawback(reward_pk=reward.pk)
    assert list(LedgerEntry.objects.order_by("pk").values_list("kind", "amount_cents")) == [
        (LedgerKind.REWARD_CREDIT, 2970),
        (LedgerKind.REWARD_ADJUSTMENT, -2079),
    ]
    assert billing_services.credit_balance_cents(practice=referred["referrer_practice"]) == 891
    reward.refresh_from_db()
    assert reward.status == RewardStatus.CREDITED


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_a_refund_that_arrives_before_its_invoice_gives_the_share_of_what_is_left(
    referred: dict[str, Any], stripe_standin: Any
) -> None:
    affiliate_program(referred["referrer"], hold_days=30)
    post_event(charge_refunded(charge="ch_early", customer="cus_newcomer", amount=5940))  # before the payment
    post_event(charge_refunded(charge="ch_whole", customer="cus_newcomer", amount=9900))
    post_event(paid_on(1, invoice_id="in_early", charge="ch_early"))
    post_event(paid_on(1, invoice_id="in_whole", charge="ch_whole"))
    process_all()
    process_all()  # replays change nothing
    (reward,) = Reward.objects.all()  # the wholly refunded invoice pays nothing at all
    assert (reward.amount_cents, reward.status) == (1584, RewardStatus.PENDING)
    waiting = _this_month_statement(referred["referrer"])
    assert (waiting.pending_cents, waiting.closing_cents) == (1584, 0)
    # Refunded further while still in its hold: lowered in place, nothing written to the ledger.
    post_event(charge_refunded(charge="ch_early", customer="cus_newcomer", amount=9900))
    process_all()
    reward.refresh_from_db()
    assert reward.status == RewardStatus.CANCELLED
    assert not AffiliateEntry.objects.exists()
    assert _this_month_statement_or_none(referred["referrer"]) is None


def _this_month_statement_or_none(referrer: Any) -> statements.AffiliateStatement | None:
    today = timezone.now().date()
    found = statements.affiliate_statements(first_month=today, months=1, affiliate_id=referrer.pk)
    return found[0] if found else None
