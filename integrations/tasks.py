"""Webhook tasks: thin, by id, safe to run twice (the delivery's lease and status decide). One
task per delivery, so a slow receiver holds up only its own; retries are scheduled by the
delivery service (integrations.delivery), not by Celery's autoretry, so each is in the log."""

from __future__ import annotations

from celery import shared_task

from dentaltap.tasks import RetryingTask
from integrations import delivery, health


@shared_task(name="integrations.tasks.webhook_deliver", soft_time_limit=30, time_limit=45)
def webhook_deliver(delivery_id: int) -> str:
    return delivery.delivery_attempt(delivery_id=delivery_id)


@shared_task(name="integrations.tasks.webhook_deliveries_relay", soft_time_limit=60, time_limit=90)
def webhook_deliveries_relay() -> int:
    """Beat: queue again the pending deliveries whose task was lost, and the emails owed about
    endpoints that disabled themselves."""
    health.disabled_notices_relay()
    return delivery.deliveries_relay()


@shared_task(name="integrations.tasks.webhook_endpoint_disabled_notify", base=RetryingTask, max_retries=6)
def webhook_endpoint_disabled_notify(endpoint_id: int) -> int:
    """Email staff that an endpoint disabled itself. Safe to run twice (once per disabling)."""
    return health.endpoint_disabled_notify(endpoint_id=endpoint_id)


@shared_task(name="integrations.tasks.webhook_endpoint_resume", base=RetryingTask, max_retries=6)
def webhook_endpoint_resume(endpoint_id: int) -> int:
    """An endpoint enabled again: its kept pending deliveries are due now and queued."""
    return health.endpoint_deliveries_resume(endpoint_id=endpoint_id)
