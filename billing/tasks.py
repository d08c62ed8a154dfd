"""Billing tasks: thin, by id, safe to run twice. Referral reward tasks are in rewards.tasks."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import OperationalError

from billing import services
from dentaltap.tasks import RetryingTask

logger = logging.getLogger(__name__)


@shared_task(base=RetryingTask, max_retries=5, soft_time_limit=60, time_limit=90)
def stripe_event_process(event_pk: int) -> str:
    return services.stripe_event_process(event_pk=event_pk)


@shared_task(soft_time_limit=120, time_limit=150)
def stripe_events_process(event_pks: list[int]) -> int:
    """Webhook events, as the web processes hand them over in batches (billing/ingest.py). One
    failing event does not hold up the others: a database hiccup queues it alone (the single
    task retries with back-off); anything else leaves it pending for the relay, as a failed
    single task would. Returns how many were processed here."""
    done = 0
    for event_pk in event_pks:
        try:
            services.stripe_event_process(event_pk=event_pk)
            done += 1
        except SoftTimeLimitExceeded:
            raise  # the rest stay pending: the relay queues them
        except OperationalError:
            logger.warning("Stripe event %s: database error, queued again on its own", event_pk, exc_info=True)
            stripe_event_process.delay(event_pk)
        except Exception:
            logger.exception("Stripe event %s failed; the relay retries it", event_pk)
    return done


@shared_task(soft_time_limit=60, time_limit=90)
def stripe_events_relay() -> int:
    """Beat: queue events still pending (the broker was down when they came, or a worker died)."""
    return services.stripe_events_relay(older_than_seconds=settings.STRIPE_EVENTS_RELAY_AFTER_SECONDS)
