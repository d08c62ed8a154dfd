from __future__ import annotations

from celery import shared_task
from django.conf import settings

from dentaltap.tasks import RetryingTask
from referrals import notifications


@shared_task(base=RetryingTask, max_retries=6)
def access_request_notify(access_request_id: int) -> int:
    """Email the practice's team managers about a new access request. Safe to run twice: it
    sends only while the request is pending and not yet notified."""
    return notifications.access_request_notify(access_request_id=access_request_id)


@shared_task(soft_time_limit=60, time_limit=90)
def access_requests_notify_unsent() -> int:
    """Beat: queue the notification of access requests whose team was never told."""
    pending = notifications.access_requests_unnotified(
        older_than_seconds=settings.ACCESS_REQUEST_NOTIFY_UNSENT_AFTER_SECONDS
    )
    for access_request_id in pending:
        access_request_notify.delay(access_request_id)
    return len(pending)
