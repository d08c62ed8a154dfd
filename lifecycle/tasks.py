from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django_tenants.utils import schema_context

from dentaltap.tasks import RetryingTask
from lifecycle import services


@shared_task(base=RetryingTask, max_retries=3, soft_time_limit=240, time_limit=300)
def lifecycle_send_due() -> dict[str, int]:
    """Beat: send the lifecycle emails that are due. Two at once never send a row twice."""
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        return services.lifecycle_send_due().outcomes
