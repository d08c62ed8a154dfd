"""Reads of practice data. Run inside the practice's schema."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django_tenants.utils import tenant_context
from redis.exceptions import RedisError

from onboarding.hooks import ActivationFacts
from practice.models import Appointment, AppointmentStatus, Patient
from provisioning.services import DELETED_SCHEMA_PREFIX
from tenants.models import Practice

logger = logging.getLogger(__name__)

# The cache key function prefixes every key with the current schema, so this key is per practice.
PATIENT_COUNT_KEY = "practice:patient-count"
PATIENT_COUNT_TTL = 60 * 60


def patient_count_refresh() -> int:
    count = Patient.objects.count()
    try:
        cache.set(PATIENT_COUNT_KEY, count, PATIENT_COUNT_TTL)
    except RedisError:
        logger.warning("cache unavailable; patient count not stored")
    return count


def patient_count() -> int:
    """The practice's patient count, from the cache the worker keeps warm; counted when the
    cache is cold or Redis is down (the page never fails because the cache did)."""
    try:
        cached = cache.get(PATIENT_COUNT_KEY)
    except RedisError:
        logger.warning("cache unavailable; counting patients directly")
        cached = None
    return cached if isinstance(cached, int) else Patient.objects.count()


def activation_facts(practice_id: int) -> ActivationFacts | None:
    """What the activation rule counts, read in the named practice's schema (onboarding asks
    through the provider practice registers at start-up). None for a practice that is gone."""
    practice = (
        Practice.objects.filter(pk=practice_id)
        .exclude(schema_name="public")
        .exclude(schema_name__startswith=DELETED_SCHEMA_PREFIX)
        .first()
    )
    if practice is None:
        return None
    with tenant_context(practice):
        return ActivationFacts(
            patients=Patient.objects.count(),
            completed_appointments=Appointment.objects.filter(status=AppointmentStatus.COMPLETED).count(),
        )
