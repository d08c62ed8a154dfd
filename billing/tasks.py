"""Billing tasks: thin, by id, safe to run twice. Referral reward tasks are in rewards.tasks."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from billing import services
from dentaltap.tasks import RetryingTask


@shared_task(base=RetryingTask, max_retries=5, soft_time_limit=60, time_limit=90)
def stripe_event_process(event_pk: int) -> str:
    return services.stripe_event_process(event_pk=event_pk)


@shared_task(soft_time_limit=60, time_limit=90)
def stripe_events_relay() -> int:
    """Beat: queue events still pending (the broker was down when they came, or a worker died)."""
    return services.stripe_events_relay(older_than_seconds=settings.STRIPE_EVENTS_RELAY_AFTER_SECONDS)
