"""Webhook tasks: thin, by id, safe to run twice (the delivery's lease and status decide). One
task per delivery, so a slow receiver holds up only its own; retries are scheduled by the
delivery service (integrations.delivery), not by Celery's autoretry, so each is in the log."""

from __future__ import annotations

from celery import shared_task

from integrations import delivery


@shared_task(name="integrations.tasks.webhook_deliver", soft_time_limit=30, time_limit=45)
def webhook_deliver(delivery_id: int) -> str:
    return delivery.delivery_attempt(delivery_id=delivery_id)


@shared_task(name="integrations.tasks.webhook_deliveries_relay", soft_time_limit=60, time_limit=90)
def webhook_deliveries_relay() -> int:
    """Beat: queue again the pending deliveries whose task was lost."""
    return delivery.deliveries_relay()
