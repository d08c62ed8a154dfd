"""Helpers for tenant-scoped Celery tasks. Tasks take a practice id, never a model instance or
an implicit "current schema": the schema is set here, explicitly, for the task's duration.
Also the account tasks (password reset email)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from celery import shared_task
from django.conf import settings
from django_tenants.utils import schema_context, tenant_context

from dentaltap.tasks import RetryingTask
from provisioning.services import DELETED_SCHEMA_PREFIX
from tenants import password_reset
from tenants.models import Practice

Result = TypeVar("Result")


def run_in_practice(practice_id: int, work: Callable[[Practice], Result]) -> Result | None:
    """Run `work` inside the practice's schema. A practice deleted since the task was queued is
    not an error worth retrying: the task ends with None."""
    practice = (
        Practice.objects.filter(pk=practice_id)
        .exclude(schema_name="public")
        .exclude(schema_name__startswith=DELETED_SCHEMA_PREFIX)
        .first()
    )
    if practice is None:
        return None
    with tenant_context(practice):
        return work(practice)


@shared_task(base=RetryingTask, max_retries=4)
def password_reset_email_send(email: str) -> int:
    """Email a password reset link if an account has this address (the request never says).
    Takes the address as typed into the reset form: looking it up here keeps the request's work
    the same for every address."""
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        return password_reset.password_reset_email_send(email=email)
