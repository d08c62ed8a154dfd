"""The recovery of tests/system/test_recovery_jobs.py for a percentage reward (issue 11): a
revenue share of every paid invoice, credited at Stripe or owed in cash to an affiliate. Redis
stops while Stripe delivers the invoice (the relay must process it once Redis is back), and the
whole worker is SIGKILLed while the credit waits on Stripe (the release job must recover it
without a second write). One reward, one ledger entry, at most one balance transaction."""

from __future__ import annotations

from typing import Any

import pytest

from billing import services
from billing.models import LedgerEntry, PracticeAccount, StripeEvent
from rewards import services as reward_services
from rewards.models import AffiliateEntry, Reward, RewardRule, RewardStatus
from tests.rewards.revshare_support import affiliate_program
from tests.stripe_helpers import invoice_paid
from tests.system.conftest import Referred
from tests.system.support import STALE_CREDIT_SECONDS, Stack, wait_until

pytestmark = [pytest.mark.system, pytest.mark.django_db(transaction=True)]

SHARE_CENTS = 1960  # 40% of the 49.00 invoice


def _percentage_rule(referred: Referred, payout: str) -> RewardRule:
    if payout == "cash":
        return affiliate_program(referred.referrer)
    program = reward_services.program_current()
    program.rules.update(
        trigger="paid_invoice", duration="forever", structure="percent", amount_cents=0, basis_points=4000, hold_days=0
    )
    return program.rules.get()


def _referrer_customer(stack: Stack, referred: Referred) -> str:
    customer: dict[str, Any] = stack.stripe("POST", "/v1/customers", {"name": "Referrer"})
    services.account_for(referred.referrer_practice)
    PracticeAccount.objects.filter(practice=referred.referrer_practice).update(stripe_customer_id=customer["id"])
    return str(customer["id"])


def _assert_paid_once(stack: Stack, referred: Referred, payout: str, customer: str) -> Reward:
    reward = Reward.objects.get(referral=referred.referral)
    assert (reward.status, reward.amount_cents, reward.payout) == (RewardStatus.CREDITED, SHARE_CENTS, payout)
    path = f"/v1/customers/{customer}/balance_transactions"
    if payout == "cash":
        assert list(AffiliateEntry.objects.values_list("affiliate_id", "amount_cents")) == [
            (referred.referrer.pk, SHARE_CENTS)
        ]
        assert not LedgerEntry.objects.exists() and stack.stripe_requests(path, method="POST") == []
        return reward
    assert list(LedgerEntry.objects.values_list("practice_id", "amount_cents")) == [
        (referred.referrer_practice.pk, SHARE_CENTS)
    ]
    assert [item["amount"] for item in stack.stripe_balance_transactions(customer)] == [-SHARE_CENTS]
    writes = stack.stripe_requests(path, method="POST")
    assert writes and {write["idempotency_key"] for write in writes} == {f"dentaltap-reward-{reward.pk}-credit"}
    return reward


@pytest.mark.parametrize("payout", ["credit", "cash"])
def test_a_revenue_share_paid_while_redis_is_down_is_credited_once_after_the_relay(
    stack: Stack, referred: Referred, unique: str, payout: str
) -> None:
    _percentage_rule(referred, payout)
    customer = _referrer_customer(stack, referred)
    stack.redis.outage("stopped")
    event = invoice_paid(customer=referred.newcomer_customer, invoice_id=f"in_share_{unique}")
    assert stack.post_webhook(event).status == 200
    assert stack.post_webhook(event).status == 200  # Stripe retries: the same event, stored once
    assert (StripeEvent.objects.get(stripe_event_id=event["id"]).status, Reward.objects.count()) == ("pending", 0)

    stack.redis.recover("stopped")
    wait_until(
        lambda: Reward.objects.filter(referral=referred.referral, status=RewardStatus.CREDITED).exists(),
        message="the relayed payment's revenue share to be credited",
        diagnostics=stack.diagnostics,
    )
    stack.wait_for_more_runs("billing.tasks.stripe_events_relay")
    stack.wait_for_more_runs("billing.tasks.rewards_release_due")
    assert StripeEvent.objects.count() == 1
    _assert_paid_once(stack, referred, payout, customer)


@pytest.mark.slow
def test_a_revenue_share_credit_lost_with_a_killed_worker_is_recovered_without_a_second_write(
    stack: Stack, referred: Referred, unique: str
) -> None:
    _percentage_rule(referred, "credit")
    customer = _referrer_customer(stack, referred)
    stack.stripe_delay_next_write(seconds=STALE_CREDIT_SECONDS / 2)  # Stripe is slow: time to kill

    assert (
        stack.post_webhook(invoice_paid(customer=referred.newcomer_customer, invoice_id=f"in_k_{unique}")).status == 200
    )
    wait_until(
        lambda: stack.stripe_requests(f"/v1/customers/{customer}/balance_transactions", method="POST"),
        message="the credit to reach Stripe",
        diagnostics=stack.diagnostics,
    )
    assert len(stack.worker_kill()) >= 2
    reward = Reward.objects.get(referral=referred.referral)
    assert reward.status == RewardStatus.CREDITING and reward.basis_points == 4000
    attempts_before_the_kill = reward.attempts

    stack.worker_start()
    stack.wait_for_worker()
    wait_until(
        lambda: Reward.objects.filter(pk=reward.pk, status=RewardStatus.CREDITED).exists(),
        message="the release job to recover the lost credit",
        diagnostics=stack.diagnostics,
    )
    stack.wait_for_more_runs("billing.tasks.rewards_release_due")
    assert _assert_paid_once(stack, referred, "credit", customer).attempts > attempts_before_the_kill
