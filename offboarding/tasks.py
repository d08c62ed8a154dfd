"""The deletion's Stripe step, after commit, and beat's retry of what is still owed."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from billing.stripe_gateway import StripeTransientError
from dentaltap.tasks import RetryingTask
from offboarding import services


@shared_task(bind=True, base=RetryingTask, max_retries=8)
def practice_customer_delete(self: Any, operation_id: int) -> bool:
    """Delete a deleted practice's Stripe customer. Safe to run twice (done once, and a customer
    already gone counts as done)."""
    try:
        return services.practice_customer_forget(operation_id=operation_id)
    except StripeTransientError as error:
        raise self.retry(exc=error, countdown=min(600, 30 * 2**self.request.retries)) from error


@shared_task(soft_time_limit=60, time_limit=90)
def practice_customers_delete_owed() -> int:
    """Beat: re-queue the Stripe step of deletions whose own task was lost or gave up."""
    owed = services.practice_customers_owed()
    for operation_id in owed:
        practice_customer_delete.delay(operation_id)
    return len(owed)
