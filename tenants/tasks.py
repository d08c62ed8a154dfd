"""Helpers for tenant-scoped Celery tasks. Tasks take a practice id, never a model instance or
an implicit "current schema": the schema is set here, explicitly, for the task's duration."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django_tenants.utils import tenant_context

from tenants.models import Practice

Result = TypeVar("Result")


def run_in_practice(practice_id: int, work: Callable[[Practice], Result]) -> Result | None:
    """Run `work` inside the practice's schema. A practice deleted since the task was queued is
    not an error worth retrying: the task ends with None."""
    practice = Practice.objects.filter(pk=practice_id).exclude(schema_name="public").first()
    if practice is None:
        return None
    with tenant_context(practice):
        return work(practice)
