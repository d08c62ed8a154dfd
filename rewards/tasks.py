"""Reward tasks: thin, by id, safe to run twice. Credits use acks_late with reject-on-worker-
lost (settings), so a worker killed mid-credit hands the task to the next one.

The tasks keep the names they had when they lived in billing (`name=`): beat's schedule and
messages already waiting in a queue name them so, and still run."""

from __future__ import annotations

from collections.abc import Callable

from celery import Task, shared_task
from django.db import OperationalError

from billing.stripe_gateway import StripePermanentError, StripeTransientError
from rewards import crediting, services

CREDIT_MAX_RETRIES = 6


def _credit_task(task: Task, reward_pk: int, work: Callable[..., str]) -> str:
    try:
        return work(reward_pk=reward_pk)
    except StripePermanentError as error:
        crediting.reward_credit_failed(reward_pk=reward_pk, error=str(error))
        return "failed"
    except (StripeTransientError, OperationalError) as error:
        if task.request.retries >= CREDIT_MAX_RETRIES:
            crediting.reward_credit_failed(
                reward_pk=reward_pk, error=f"gave up after {task.request.retries} retries: {error}"
            )
            return "failed"
        # Exponential backoff, 2 s to about a minute; the idempotency key makes each retry safe.
        raise task.retry(exc=error, countdown=min(2 ** (task.request.retries + 1), 64)) from error


@shared_task(
    name="billing.tasks.reward_credit", bind=True, max_retries=CREDIT_MAX_RETRIES, soft_time_limit=60, time_limit=90
)
def reward_credit(self, reward_pk: int) -> str:  # type: ignore[no-untyped-def]
    return _credit_task(self, reward_pk, crediting.reward_credit)


@shared_task(
    name="billing.tasks.reward_clawback", bind=True, max_retries=CREDIT_MAX_RETRIES, soft_time_limit=60, time_limit=90
)
def reward_clawback(self, reward_pk: int) -> str:  # type: ignore[no-untyped-def]
    return _credit_task(self, reward_pk, crediting.reward_clawback)


@shared_task(
    name="rewards.tasks.reward_adjust", bind=True, max_retries=CREDIT_MAX_RETRIES, soft_time_limit=60, time_limit=90
)
def reward_adjust(self, reward_pk: int) -> str:  # type: ignore[no-untyped-def]
    return _credit_task(self, reward_pk, crediting.reward_adjust)


@shared_task(name="billing.tasks.rewards_release_due", soft_time_limit=60, time_limit=90)
def rewards_release_due() -> int:
    """Beat: queue the credit of due rewards, and again of credits stuck in flight (a worker
    killed outright: its message waits for the broker's visibility timeout, an hour)."""
    return services.rewards_release_due()
