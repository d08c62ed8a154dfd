"""dentaltap.tasks.RetryingTask: transient failures are retried (with back-off and limits),
anything else fails at once; the project's tasks on it keep their own retry counts."""

from __future__ import annotations

from smtplib import SMTPServerDisconnected

import pytest
from django.db import OperationalError

from dentaltap.celery import app
from dentaltap.tasks import TRANSIENT_ERRORS, RetryingTask
from referrals.tasks import access_request_notify
from tenants.tasks import password_reset_email_send

attempts: list[str] = []


@app.task(base=RetryingTask, max_retries=3, name="tests.kit.flaky")
def flaky(error_name: str) -> str:
    attempts.append(error_name)
    errors = {"database": OperationalError("server closed the connection"), "mail": SMTPServerDisconnected()}
    errors["bug"] = ValueError("a bug: retrying cannot help")
    if len(attempts) < 3:
        raise errors[error_name]
    return "done"


@pytest.fixture(autouse=True)
def _no_attempts() -> None:
    attempts.clear()


@pytest.mark.parametrize("error_name", ["database", "mail"])
def test_a_transient_failure_is_retried_until_it_passes(error_name: str) -> None:
    # apply() runs the retries in this process, one after the other (the back-off is a worker's).
    result = flaky.apply(args=[error_name])
    assert result.get() == "done"
    assert attempts == [error_name] * 3


def test_any_other_failure_is_not_retried() -> None:
    result = flaky.apply(args=["bug"])
    with pytest.raises(ValueError, match="a bug"):
        result.get()
    assert attempts == ["bug"]


def test_the_retries_end() -> None:
    @app.task(base=RetryingTask, max_retries=2, name="tests.kit.always_down")
    def always_down() -> None:
        attempts.append("down")
        raise ConnectionError("still down")

    with pytest.raises(ConnectionError):
        always_down.apply().get()
    assert attempts == ["down"] * 3  # the first run and two retries


def test_the_base_sets_back_off_and_time_limits() -> None:
    assert RetryingTask.autoretry_for == TRANSIENT_ERRORS
    assert {OperationalError, ConnectionError, TimeoutError} <= set(TRANSIENT_ERRORS)
    assert RetryingTask.retry_backoff is True and RetryingTask.retry_jitter is True
    assert RetryingTask.soft_time_limit < RetryingTask.time_limit


@pytest.mark.parametrize(("task", "retries"), [(password_reset_email_send, 4), (access_request_notify, 6)])
def test_the_projects_tasks_use_it(task: RetryingTask, retries: int) -> None:
    assert isinstance(task, RetryingTask)
    assert task.max_retries == retries
    assert (task.soft_time_limit, task.time_limit) == (30, 45)
    assert task.autoretry_for == TRANSIENT_ERRORS
