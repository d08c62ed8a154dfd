"""Changes to practice data. Run inside the practice's schema (request or tenant_context)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext as _

from dentaltap.errors import ApplicationError
from practice.models import Appointment, Patient
from practice.tasks import patient_count_refresh

if TYPE_CHECKING:
    from tenants.models import Practice

logger = logging.getLogger(__name__)

PATIENT_FIELDS = ("first_name", "last_name", "date_of_birth", "email", "phone", "notes")
APPOINTMENT_FIELDS = ("patient", "starts_at", "ends_at", "reason", "status", "notes")


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        message = _("The end must be after the start.")
        raise ApplicationError(message, fields={"ends_at": [message]})


def _patient_count_refresh_after_commit(practice: Practice) -> None:
    # robust: a broker outage must not fail a request whose data is already committed; the
    # dashboard counts directly when the cached figure is stale or missing.
    transaction.on_commit(lambda: patient_count_refresh.delay(practice.pk), robust=True)


@transaction.atomic
def patient_create(*, practice: Practice, **data: Any) -> Patient:
    from billing.limits import patient_limit_check  # noqa: PLC0415 - billing builds on practices

    patient_limit_check(practice=practice)
    patient = Patient.objects.create(**{key: data[key] for key in PATIENT_FIELDS if key in data})
    _patient_count_refresh_after_commit(practice)
    return patient


def patient_update(*, practice: Practice, patient: Patient, **data: Any) -> Patient:
    for key in PATIENT_FIELDS:
        if key in data:
            setattr(patient, key, data[key])
    patient.save()
    return patient


def appointment_create(*, practice: Practice, **data: Any) -> Appointment:
    _check_times(data["starts_at"], data["ends_at"])
    return Appointment.objects.create(**{key: data[key] for key in APPOINTMENT_FIELDS if key in data})


@transaction.atomic
def appointment_update(*, practice: Practice, appointment: Appointment, **data: Any) -> Appointment:
    for key in APPOINTMENT_FIELDS:
        if key in data:
            setattr(appointment, key, data[key])
    _check_times(appointment.starts_at, appointment.ends_at)
    appointment.save()
    return appointment
