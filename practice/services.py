"""Changes to practice data. Run inside the practice's schema (request or tenant_context)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from dentaltap.errors import ApplicationError
from practice.models import Appointment, Patient

PATIENT_FIELDS = ("first_name", "last_name", "date_of_birth", "email", "phone", "notes")
APPOINTMENT_FIELDS = ("patient", "starts_at", "ends_at", "reason", "status", "notes")


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        message = _("The end must be after the start.")
        raise ApplicationError(message, fields={"ends_at": [message]})


def patient_create(**data: Any) -> Patient:
    return Patient.objects.create(**{key: data[key] for key in PATIENT_FIELDS if key in data})


def patient_update(*, patient: Patient, **data: Any) -> Patient:
    for key in PATIENT_FIELDS:
        if key in data:
            setattr(patient, key, data[key])
    patient.save()
    return patient


def appointment_create(**data: Any) -> Appointment:
    _check_times(data["starts_at"], data["ends_at"])
    return Appointment.objects.create(**{key: data[key] for key in APPOINTMENT_FIELDS if key in data})


@transaction.atomic
def appointment_update(*, appointment: Appointment, **data: Any) -> Appointment:
    for key in APPOINTMENT_FIELDS:
        if key in data:
            setattr(appointment, key, data[key])
    _check_times(appointment.starts_at, appointment.ends_at)
    appointment.save()
    return appointment
