"""The spare-schema pool's refill: after every claim (on commit) and from beat, as a backstop."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from provisioning import services


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3, soft_time_limit=60, time_limit=90)
def spare_schemas_refill() -> int:
    """Top the pool up to PROVISIONING_SPARE_SCHEMAS. Safe to run twice (one refill at a time;
    a second one returns at once). Returns the number of spares created."""
    return services.spare_schemas_refill().created
