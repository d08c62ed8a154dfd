"""Exactly once, still, for the reward types of issue 11 (a percentage of every paid invoice
credited at Stripe, the same paid in cash to an affiliate, points, two-sided credit): the same
signed event x50 in parallel through the real webhook view, semantic duplicates (the same
invoice under another event id), concurrent credits, and a refund that arrives before its
payment. One reward per recipient, one ledger entry each, one Stripe write each (none for cash
and points). The Redis-down and killed-worker cases are tests/system/test_recovery_revshare.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from billing.models import LedgerEntry, LedgerKind, PracticeAccount
from rewards import crediting
from rewards.models import AffiliateEntry, PointsEntry, Reward, RewardStatus
from tests.billing_support import default_rule_set, post_event, process_all
from tests.concurrency import run_together
from tests.rewards.revshare_support import affiliate_program
from tests.stripe_helpers import charge_refunded, invoice_paid

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.practice_rows_only]

PERCENT = {"trigger": "paid_invoice", "duration": "forever", "structure": "percent", "amount_cents": 0}
KINDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "percent_credit": lambda referred: default_rule_set(**PERCENT, basis_points=4000, hold_days=0),
    "percent_cash": lambda referred: affiliate_program(referred["referrer"]),
    "points": lambda referred: default_rule_set(structure="points", amount_cents=0, points=250, hold_days=0),
    "two_sided": lambda referred: default_rule_set(recipient="both", amount_cents=2500, hold_days=0),
}
# (rewards, ledger entries, Stripe writes) for one paid invoice of 49.00
ONCE = {"percent_credit": (1, 1, 1), "percent_cash": (1, 1, 0), "points": (1, 1, 0), "two_sided": (2, 2, 2)}


def _entries() -> int:
    return LedgerEntry.objects.count() + AffiliateEntry.objects.count() + PointsEntry.objects.count()


def _at_stripe(standin: Any, practice: Any) -> list[int]:
    customer = PracticeAccount.objects.get(practice=practice).stripe_customer_id
    return [transaction["amount"] for transaction in standin.balance_transactions(customer)]


def _credit_all_at_once() -> list[Any]:
    # A two-sided credit makes the referred practice's Stripe customer at the stand-in first.
    PracticeAccount.objects.filter(stripe_customer_id="cus_newcomer").update(stripe_customer_id="")
    pks = list(Reward.objects.values_list("pk", flat=True))
    return run_together(*[lambda pk=pk: crediting.reward_credit(reward_pk=pk) for pk in pks for _ in range(3)])


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_same_event_50_times_in_parallel_and_its_semantic_duplicates_pay_once(
    kind: str, referred: dict[str, Any], stripe_standin: Any
) -> None:
    KINDS[kind](referred)
    event = invoice_paid(customer="cus_newcomer", invoice_id="in_once", charge="ch_once")
    assert run_together(*[lambda: post_event(event).status_code for _ in range(50)]) == [200] * 50
    duplicates = [
        invoice_paid(customer="cus_newcomer", invoice_id="in_once", charge="ch_once", event_id=f"evt_dup_{n}")
        for n in range(5)
    ]
    assert run_together(*[lambda e=e: post_event(e).status_code for e in duplicates]) == [200] * 5
    run_together(*[process_all for _ in range(4)])
    _credit_all_at_once()
    _credit_all_at_once()  # a second wave finds every reward done

    rewards, entries, writes = ONCE[kind]
    assert Reward.objects.count() == rewards
    assert set(Reward.objects.values_list("status", flat=True)) == {RewardStatus.CREDITED}
    assert _entries() == entries
    # Concurrent credits may each send the write: one idempotency key makes it one at Stripe.
    keys = {call["idempotency_key"] for call in stripe_standin.writes("balance_transactions")}
    assert len(keys) == writes
    if kind == "percent_credit":
        assert list(LedgerEntry.objects.values_list("kind", "amount_cents")) == [(LedgerKind.REWARD_CREDIT, 1960)]
        assert _at_stripe(stripe_standin, referred["referrer_practice"]) == [-1960]
    if kind == "percent_cash":
        assert list(AffiliateEntry.objects.values_list("amount_cents", flat=True)) == [1960]


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_refund_before_its_payment_and_both_replayed_in_parallel_count_once(
    kind: str, referred: dict[str, Any], stripe_standin: Any
) -> None:
    """A refund of 60% reported before the invoice's own event: a percentage pays its share of
    what is left (40% of 19.60); a flat credit or points are void (half or more refunded)."""
    KINDS[kind](referred)
    refund = charge_refunded(charge="ch_late", customer="cus_newcomer", amount=2940)
    paid = invoice_paid(customer="cus_newcomer", invoice_id="in_late", charge="ch_late")
    assert run_together(*[lambda: post_event(refund).status_code for _ in range(10)]) == [200] * 10
    assert run_together(*[lambda: post_event(paid).status_code for _ in range(10)]) == [200] * 10
    run_together(*[process_all for _ in range(4)])
    _credit_all_at_once()
    rewards = list(Reward.objects.values_list("status", "amount_cents"))
    if kind.startswith("percent"):
        assert rewards == [(RewardStatus.CREDITED, 784)]
        assert _entries() == 1
        # Concurrent credits may each send the write: one idempotency key makes it one at Stripe.
        keys = {call["idempotency_key"] for call in stripe_standin.writes("balance_transactions")}
        assert len(keys) == (1 if kind == "percent_credit" else 0)
        if kind == "percent_credit":
            assert _at_stripe(stripe_standin, referred["referrer_practice"]) == [-784]
    else:
        assert {status for status, _amount in rewards} == {RewardStatus.CANCELLED}
        assert len(rewards) == ONCE[kind][0]
        assert _entries() == 0 and stripe_standin.writes("balance_transactions") == []


@pytest.mark.parametrize("kind", ["percent_credit", "percent_cash"])
def test_a_refund_after_the_credit_replayed_in_parallel_adjusts_once(
    kind: str, referred: dict[str, Any], stripe_standin: Any
) -> None:
    KINDS[kind](referred)
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_then", charge="ch_then"))
    process_all()
    _credit_all_at_once()
    refund = charge_refunded(charge="ch_then", customer="cus_newcomer", amount=2940)
    assert run_together(*[lambda: post_event(refund).status_code for _ in range(10)]) == [200] * 10
    run_together(*[process_all for _ in range(4)])
    (reward,) = Reward.objects.all()
    run_together(*[lambda: crediting.reward_adjust(reward_pk=reward.pk) for _ in range(6)])
    assert _entries() == 2  # the credit and one adjustment (-1960 + 784 = -1176)
    ledger = LedgerEntry if kind == "percent_credit" else AffiliateEntry
    assert list(ledger.objects.order_by("pk").values_list("amount_cents", flat=True)) == [1960, -1176]
    keys = {call["idempotency_key"] for call in stripe_standin.writes("balance_transactions")}
    assert keys == (
        {f"dentaltap-reward-{reward.pk}-credit", f"dentaltap-reward-{reward.pk}-adjust-784"}
        if kind == "percent_credit"
        else set()
    )
