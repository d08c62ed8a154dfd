from __future__ import annotations

from celery import shared_task

from dentaltap.tasks import RetryingTask
from practice import selectors
from tenants.tasks import run_in_practice


@shared_task(base=RetryingTask, max_retries=5)
def patient_count_refresh(practice_id: int) -> int | None:
    """Recount a practice's patients into its cache. Safe to run twice."""
    return run_in_practice(practice_id, lambda _practice: selectors.patient_count_refresh())
