"""Outbound webhooks with a real Celery worker and the real broker: a committed change is
delivered after commit by the worker; with Redis down at commit time the change still commits,
the delivery waits in the outbox, and beat's relay has it delivered once Redis is back; two
workers failing at once disable an endpoint once and staff get one email, and enabling it again
has the worker send what was kept."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from integrations import delivery, health
from integrations.models import DeliveryStatus, DisabledReason, WebhookDelivery, WebhookEndpoint
from rewards.models import Reward, RewardStatus
from tests.billing_support import broker_idle, wait_for
from tests.conftest import redis_down
from tests.webhooks_support import Receiver, behind_a_held_lock, endpoint_for, points_reward_credited, verify


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


@pytest.mark.django_db(transaction=True)
def test_two_workers_failing_at_once_disable_it_once_one_email_and_enabling_resumes_the_kept(
    make_practice: Callable[..., Any],
    webhook_receiver: Receiver,
    settings: Any,
    request: pytest.FixtureRequest,
) -> None:
    staff_client = request.getfixturevalue("client_for")(request.getfixturevalue("staff"))
    settings.WEBHOOK_DISABLE_AFTER_HOURS, settings.WEBHOOK_DISABLE_MIN_FAILURES = 72, 3
    settings.WEBHOOK_ALERT_EMAILS = ["ops@dentaltap.example"]
    settings.WEBHOOK_COUNTDOWN_MAX_SECONDS = 0  # the retries are beat's: the worker sees only the email
    endpoint = endpoint_for(webhook_receiver, "/crm?token=QuerySecret")
    points_reward_credited(make_practice, name="one")
    points_reward_credited(make_practice, name="two")
    first, second = WebhookDelivery.objects.order_by("pk")
    request.getfixturevalue("celery_worker")  # purges what was queued: the two attempts are ours
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - datetime.timedelta(days=4), failure_streak=2
    )
    webhook_receiver.script = [500, 500]
    mail.outbox = []

    # Both requests fail; both outcomes reach the endpoint's row at the same moment.
    results = behind_a_held_lock(
        endpoint.pk,
        lambda: delivery.delivery_attempt(delivery_id=first.pk),
        lambda: delivery.delivery_attempt(delivery_id=second.pk),
    )
    assert results == [DeliveryStatus.PENDING, DeliveryStatus.PENDING]
    endpoint.refresh_from_db()
    assert not endpoint.is_enabled and endpoint.disabled_reason == DisabledReason.FAILING
    assert endpoint.failure_streak == 4
    assert wait_for(lambda: len(mail.outbox) == 1), "no email"
    assert wait_for(broker_idle), "queued work never finished"
    [email] = mail.outbox
    assert email.to == ["ops@dentaltap.example"] and "QuerySecret" not in email.body + email.subject
    assert health.disabled_notices_relay(after_seconds=0) == 0 and len(mail.outbox) == 1

    # Staff enable it in the admin: the worker sends the two kept deliveries at once.
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    form = {"url": endpoint.url, "event_types": endpoint.event_types, "is_enabled": "on", "_save": "Save"}
    staff_client.post(f"/admin/integrations/webhookendpoint/{endpoint.pk}/change/", form)
    assert wait_for(lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 2)
    assert wait_for(broker_idle), "queued work never finished"
    assert len(webhook_receiver.requests) == 4 and all(verify(r, endpoint.secret) for r in webhook_receiver.requests)
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).failure_streak == 0
