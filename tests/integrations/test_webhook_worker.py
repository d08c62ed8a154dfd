"""Outbound webhooks with a real Celery worker and the real broker: a committed change is
delivered after commit by the worker; with Redis down at commit time the change still commits,
the delivery waits in the outbox, and beat's relay has it delivered once Redis is back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from integrations import delivery
from integrations.models import DeliveryStatus, WebhookDelivery
from rewards.models import Reward, RewardStatus
from tests.billing_support import broker_idle, wait_for
from tests.conftest import redis_down
from tests.webhooks_support import Receiver, endpoint_for, points_reward_credited, verify


@pytest.mark.django_db(transaction=True)
def test_the_worker_delivers_after_commit(
    make_practice: Callable[..., Any], webhook_receiver: Receiver, celery_worker: object
) -> None:
    endpoint = endpoint_for(webhook_receiver)
    points_reward_credited(make_practice)
    assert wait_for(lambda: len(webhook_receiver.requests) == 1), "the worker did not deliver"
    assert wait_for(lambda: WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED)
    assert wait_for(broker_idle), "queued work never finished"
    assert verify(webhook_receiver.requests[0], endpoint.secret)
    assert wait_for(broker_idle), "queued work never finished"
    assert len(webhook_receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_with_redis_down_at_commit_the_relay_delivers_later(
    make_practice: Callable[..., Any], webhook_receiver: Receiver, settings: Any, request: pytest.FixtureRequest
) -> None:
    endpoint_for(webhook_receiver)
    with redis_down(settings):
        reward = points_reward_credited(make_practice)
    assert Reward.objects.get(pk=reward.pk).status == RewardStatus.CREDITED  # the change committed
    row = WebhookDelivery.objects.get()
    assert row.status == DeliveryStatus.PENDING and row.attempts == 0
    assert webhook_receiver.requests == []

    request.getfixturevalue("celery_worker")
    settings.WEBHOOK_RELAY_AFTER_SECONDS = 0
    assert delivery.deliveries_relay() == 1  # what beat runs every minute
    assert wait_for(lambda: len(webhook_receiver.requests) == 1), "the relay did not deliver"
    assert wait_for(lambda: WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED)
    assert wait_for(broker_idle), "queued work never finished"
