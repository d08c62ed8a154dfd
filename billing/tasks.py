"""Billing tasks: thin, by id, safe to run twice. Credits use acks_late with reject-on-worker-
lost (settings), so a worker killed mid-credit hands the task to the next one."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from billing import services
from billing.stripe_gateway import StripePermanentError, StripeTransientError

CREDIT_MAX_RETRIES = 6


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5, soft_time_limit=60, time_limit=90)
def stripe_event_process(event_pk: int) -> str:
    return services.stripe_event_process(event_pk=event_pk)


def _credit_task(self, reward_pk: int, work) -> str:  # type: ignore[no-untyped-def]
    try:
        return work(reward_pk=reward_pk)
    except StripePermanentError as error:
        services.reward_credit_failed(reward_pk=reward_pk, error=str(error))
        return "failed"
    except (StripeTransientError, OperationalError) as error:
        if self.request.retries >= CREDIT_MAX_RETRIES:
            services.reward_credit_failed(
                reward_pk=reward_pk, error=f"gave up after {self.request.retries} retries: {error}"
            )
            return "failed"
        # Exponential backoff, 2 s to about a minute; the idempotency key makes each retry safe.
        raise self.retry(exc=error, countdown=min(2 ** (self.request.retries + 1), 64)) from error


@shared_task(bind=True, max_retries=CREDIT_MAX_RETRIES, soft_time_limit=60, time_limit=90)
def reward_credit(self, reward_pk: int) -> str:  # type: ignore[no-untyped-def]
    return _credit_task(self, reward_pk, services.reward_credit)


@shared_task(bind=True, max_retries=CREDIT_MAX_RETRIES, soft_time_limit=60, time_limit=90)
def reward_clawback(self, reward_pk: int) -> str:  # type: ignore[no-untyped-def]
    return _credit_task(self, reward_pk, services.reward_clawback)


@shared_task(soft_time_limit=60, time_limit=90)
def rewards_release_due() -> int:
    """Beat: queue the credit of due rewards, and again of credits stuck in flight (a worker
    killed outright: its message waits for the broker's visibility timeout, an hour)."""
    return services.rewards_release_due()


@shared_task(soft_time_limit=60, time_limit=90)
def stripe_events_relay() -> int:
    """Beat: queue events still pending (the broker was down when they came, or a worker died)."""
    return services.stripe_events_relay(older_than_seconds=settings.STRIPE_EVENTS_RELAY_AFTER_SECONDS)
