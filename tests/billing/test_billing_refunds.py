"""Partial refunds and the referral reward (docs/staff.md): a reward stands until refunds of its
qualifying payment add up to half of it or more; a dispute of any amount voids it. Stripe sends
one `charge.refunded` per refund, each with the charge's running total, in any order."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from billing import services
from billing.models import LedgerEntry, LedgerKind, Payment, PaymentReversal
from rewards import crediting
from rewards.models import Reward, RewardStatus
from tests.billing_support import post_event, process_all
from tests.stripe_helpers import Standin, dispute_created, event, invoice_paid, stripe_object

pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]
PAID = 4900


def refund_report(refunded_so_far: int, *, charge: str = "ch_first") -> dict[str, Any]:
    """`charge.refunded` as Stripe sends it after each refund: the charge with its running total."""
    charge_object = stripe_object(
        "charge", id=charge, customer="cus_newcomer", amount=PAID, amount_refunded=refunded_so_far,
        refunded=refunded_so_far >= PAID, paid=True,
    )  # fmt: skip
    return event("charge.refunded", charge_object)


def pay() -> Reward:
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first", charge="ch_first", amount=PAID))
    process_all()
    return Reward.objects.get()


def deliver(*payloads: dict[str, Any]) -> None:
    for payload in payloads:
        assert post_event(payload).status_code == 200
        process_all()


def status_of(reward: Reward) -> str:
    reward.refresh_from_db()
    return reward.status


def test_a_small_partial_refund_leaves_the_reward_standing(referred: dict[str, Any]) -> None:
    reward = pay()
    deliver(refund_report(980))  # 20 %
    assert status_of(reward) == RewardStatus.PENDING
    assert not Payment.objects.get().is_reversed
    assert PaymentReversal.objects.get().amount_cents == 980


def test_partial_refunds_adding_up_past_half_cancel_the_reward_once(referred: dict[str, Any]) -> None:
    reward = pay()
    deliver(refund_report(980))  # 20 %
    assert status_of(reward) == RewardStatus.PENDING
    deliver(refund_report(1960))  # 40 % so far
    assert status_of(reward) == RewardStatus.PENDING
    deliver(refund_report(2940))  # 60 % so far: over the line
    assert status_of(reward) == RewardStatus.CANCELLED
    assert reward.reason == "29.40 of the qualifying payment of 49.00 USD was refunded (half or more)."
    assert Payment.objects.get().is_reversed
    assert list(PaymentReversal.objects.values_list("amount_cents", flat=True)) == [2940]
    assert list(reward.actions.values_list("to_status", flat=True)) == ["pending", "cancelled"]
    deliver(refund_report(PAID))  # the rest refunded later: nothing more happens
    assert list(reward.actions.values_list("to_status", flat=True)) == ["pending", "cancelled"]


def test_exactly_half_refunded_cancels(referred: dict[str, Any]) -> None:
    reward = pay()
    deliver(refund_report(2449))
    assert status_of(reward) == RewardStatus.PENDING
    deliver(refund_report(2450))
    assert status_of(reward) == RewardStatus.CANCELLED


def test_refund_reports_out_of_order_never_lower_the_total(referred: dict[str, Any]) -> None:
    reward = pay()
    latest, older, oldest = refund_report(2940), refund_report(1960), refund_report(980)
    deliver(latest)
    assert status_of(reward) == RewardStatus.CANCELLED
    deliver(older, oldest)  # Stripe's earlier reports arrive last
    assert PaymentReversal.objects.get().amount_cents == 2940
    assert status_of(reward) == RewardStatus.CANCELLED
    assert reward.actions.count() == 2  # pending, cancelled: the late reports changed nothing


def test_out_of_order_reports_below_half_keep_the_reward(referred: dict[str, Any]) -> None:
    reward = pay()
    deliver(refund_report(1960), refund_report(980))
    assert PaymentReversal.objects.get().amount_cents == 1960
    assert status_of(reward) == RewardStatus.PENDING


@pytest.mark.parametrize(("refunded", "expected"), [(980, RewardStatus.PENDING), (2940, RewardStatus.CANCELLED)])
def test_refunds_reported_before_the_payment_apply_the_same_rule(
    referred: dict[str, Any], refunded: int, expected: str
) -> None:
    deliver(refund_report(refunded))
    reward = pay()
    assert reward.status == expected
    assert Payment.objects.get().is_reversed == (expected == RewardStatus.CANCELLED)


def test_a_dispute_of_any_amount_cancels(referred: dict[str, Any]) -> None:
    reward = pay()
    deliver(dispute_created(charge="ch_first", dispute_id="dp_small", amount=500))
    assert status_of(reward) == RewardStatus.CANCELLED
    assert reward.reason == "The qualifying payment was disputed."


def test_after_the_credit_a_small_refund_keeps_it_and_crossing_half_claws_it_back(
    referred: dict[str, Any], no_hold: Any, stripe_standin: Standin
) -> None:
    reward = pay()
    Reward.objects.filter(pk=reward.pk).update(hold_until=timezone.now() - datetime.timedelta(seconds=1))
    assert crediting.reward_credit(reward_pk=reward.pk) == RewardStatus.CREDITED
    deliver(refund_report(980))
    assert status_of(reward) == RewardStatus.CREDITED
    assert crediting.reward_clawback(reward_pk=reward.pk) == RewardStatus.CREDITED  # nothing owed back
    deliver(refund_report(2940))
    assert crediting.reward_clawback(reward_pk=reward.pk) == RewardStatus.CLAWED_BACK
    kinds = list(LedgerEntry.objects.order_by("pk").values_list("kind", "amount_cents"))
    assert kinds == [(LedgerKind.REWARD_CREDIT, 5000), (LedgerKind.REWARD_CLAWBACK, -5000)]
    customer = services.stripe_customer_ensure(practice=referred["referrer_practice"])
    assert [t["amount"] for t in stripe_standin.balance_transactions(customer)] == [-5000, 5000]
