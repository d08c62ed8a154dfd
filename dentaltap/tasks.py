"""One base for tasks that retry what is worth retrying.

    @shared_task(base=RetryingTask, max_retries=6)
    def access_request_notify(access_request_id: int) -> int: ...

Transient failures (the database gone for a moment, the mail server refusing, a network error or
timeout) are retried with exponential back-off and jitter; anything else fails the task at once,
because running it again would fail the same way. Each run has time limits (soft, then hard), so
a stuck call cannot hold a worker. A task on this base must be safe to run twice: a retry after a
failure half-way runs it again from the start.
"""

from __future__ import annotations

from smtplib import SMTPException

from celery import Task
from django.db import OperationalError

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OperationalError, SMTPException, ConnectionError, TimeoutError)


class RetryingTask(Task):  # type: ignore[type-arg]
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = True  # 1 s, 2 s, 4 s, ... (jittered)
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 5
    soft_time_limit = 30
    time_limit = 45
