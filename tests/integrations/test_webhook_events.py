"""Each event type through the path where it happens (a referral recorded, a Stripe webhook
paying and refunding, a credit, a clawback, a redemption), and what its payload holds: ids,
amounts in cents with their currency, never an email, a person's name or a token."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from integrations.models import EventType, WebhookDelivery, WebhookEvent
from referrals.services import referral_record
from rewards import crediting, points
from rewards.models import CatalogueItem, Reward, RewardStatus
from tests.billing_support import post_event, process_all
from tests.stripe_helpers import charge_refunded, invoice_paid
from tests.webhooks_support import Receiver, endpoint_for, points_reward_credited

pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]


def _data(event_type: str) -> dict[str, Any]:
    event = WebhookEvent.objects.get(type=event_type)
    body = json.loads(event.body)
    assert (body["id"], body["type"]) == (event.event_id, event_type)
    assert "@" not in event.body and "Owner of" not in event.body  # no email, no person's name
    return body["data"]


def test_a_recorded_referral_is_referral_created(make_practice: Callable[..., Any], webhook_receiver: Receiver) -> None:
    endpoint_for(webhook_receiver)
    referrer, home = make_practice("created-referrer", schema=False)
    newcomer, practice = make_practice("created-newcomer", schema=False)
    referral = referral_record(referrer=referrer, referred_user=newcomer, referred_practice=practice, source="link")
    data = _data(EventType.REFERRAL_CREATED)
    assert data["referral"]["id"] == referral.pk and data["referral"]["source"] == "link"
    assert data["referrer"] == {"user_id": referrer.pk, "practice_id": home.pk}
    assert data["referred_practice"] == {"id": practice.pk, "name": practice.name}
    assert WebhookDelivery.objects.count() == 1


def test_a_paid_refunded_referral_is_converted_earned_and_reversed_once_each(
    referred: dict[str, Any], no_hold: Any, stripe_standin: Any, webhook_receiver: Receiver
) -> None:
    endpoint_for(webhook_receiver)
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_hook", amount=4900))
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_hook_2", amount=4900))  # a second invoice
    process_all()
    converted = _data(EventType.REFERRAL_CONVERTED)
    assert converted["referral"]["id"] == referred["referral"].pk
    assert converted["first_payment"]["amount_cents"] == 4900 and converted["first_payment"]["currency"] == "usd"
    assert WebhookEvent.objects.filter(type=EventType.REFERRAL_CONVERTED).count() == 1

    reward = Reward.objects.get()
    assert not WebhookEvent.objects.filter(type=EventType.REWARD_EARNED).exists()  # created is not earned
    assert crediting.reward_credit(reward_pk=reward.pk) == RewardStatus.CREDITED
    earned = _data(EventType.REWARD_EARNED)["reward"]
    assert (earned["id"], earned["amount_cents"], earned["currency"], earned["status"]) == (
        reward.pk,
        5000,
        "usd",
        "credited",
    )
    assert earned["beneficiary_practice_id"] == referred["referrer_practice"].pk

    post_event(charge_refunded(charge="ch_for_in_hook", customer="cus_newcomer", amount=4900))
    process_all()
    assert crediting.reward_clawback(reward_pk=reward.pk) == RewardStatus.CLAWED_BACK
    assert crediting.reward_clawback(reward_pk=reward.pk) == RewardStatus.CLAWED_BACK  # a replay
    reversed_ = _data(EventType.REWARD_REVERSED)
    assert reversed_["reward"]["id"] == reward.pk and reversed_["reversal"]["amount_cents"] == 5000
    assert WebhookEvent.objects.filter(type=EventType.REWARD_REVERSED).count() == 1
    assert WebhookDelivery.objects.count() == 3  # converted, earned, reversed: one endpoint each


def test_a_redemption_is_points_redeemed_and_a_retried_one_is_not_told_again(
    make_practice: Callable[..., Any], webhook_receiver: Receiver
) -> None:
    endpoint_for(webhook_receiver, types=[EventType.POINTS_REDEEMED])
    reward = points_reward_credited(make_practice)
    item = CatalogueItem.objects.create(name="$50 credit", cost_points=1000, stock=3)
    user = reward.referrer
    first = points.redemption_create(user=user, item_id=item.pk, idempotency_key="click-1")
    again = points.redemption_create(user=user, item_id=item.pk, idempotency_key="click-1")
    assert first.pk == again.pk
    data = _data(EventType.POINTS_REDEEMED)
    assert data["redemption"]["id"] == first.pk and data["redemption"]["points"] == 1000
    assert data["redemption"]["item"] == {"id": item.pk, "name": "$50 credit"}
    assert data["points_balance"] == 500
    assert WebhookEvent.objects.count() == 1  # reward.earned was not subscribed
