"""Reads of practice data. Run inside the practice's schema."""

from __future__ import annotations

import logging

from django.core.cache import cache
from redis.exceptions import RedisError

from onboarding.hooks import ActivationFacts
from practice.models import Appointment, AppointmentStatus, Patient
from tenants.tasks import run_in_practice

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
    through the provider practice registers at start-up). None for a practice that is gone
    (tenants.tasks.run_in_practice: the one lookup of a live practice by id)."""
    return run_in_practice(
        practice_id,
        lambda _practice: ActivationFacts(
            patients=Patient.objects.count(),
            completed_appointments=Appointment.objects.filter(status=AppointmentStatus.COMPLETED).count(),
        ),
    )
