from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django_tenants.utils import schema_context

from dentaltap.tasks import RetryingTask
from onboarding import services


@shared_task(base=RetryingTask, max_retries=3, soft_time_limit=120, time_limit=150)
def milestones_notify_missed() -> int:
    """Beat: tell the listeners of milestones whose process died before telling them."""
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        return services.milestones_notify_missed(
            owed_for_seconds=settings.ONBOARDING_NOTIFY_OWED_SECONDS,
            give_up_after_hours=settings.ONBOARDING_NOTIFY_GIVE_UP_HOURS,
        )


@shared_task(base=RetryingTask, max_retries=3, soft_time_limit=120, time_limit=150)
def activation_sweep() -> int:
    """Beat: re-check activation of practices that recorded a milestone lately (services.activation_sweep)."""
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        return services.activation_sweep(recorded_within_seconds=settings.ONBOARDING_ACTIVATION_SWEEP_WITHIN_SECONDS)
