"""Changes to practice data. Run inside the practice's schema (request or tenant_context)."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from dentaltap.errors import ApplicationError
from onboarding.models import MilestoneKey
from onboarding.services import milestone_record
from practice.handoffs import patient_limit_check
from practice.models import Appointment, AppointmentStatus, Patient
from practice.tasks import patient_count_refresh

if TYPE_CHECKING:
    from tenants.models import Practice

logger = logging.getLogger(__name__)

PATIENT_FIELDS = ("first_name", "last_name", "date_of_birth", "email", "phone", "notes")
APPOINTMENT_FIELDS = ("patient", "starts_at", "ends_at", "reason", "status", "notes")


# Dates outside these bounds are typing mistakes (9999-12-31, 0001-01-01), not records:
# - nobody alive was born before 1900, and a birth date is not in the future (one day of grace:
#   "today" somewhere east of UTC is already tomorrow in UTC);
# - digital schedules imported from older systems reach back to about 2000 at most, and nobody
#   books further ahead than a long orthodontic plan: five years;
# - a visit lasts hours, not days: an end a day or more after the start is a mistyped date.
# Checked here, so the pages, the API and any import share one rule; only changed values are
# checked, so an older row stays editable.
EARLIEST_DATE_OF_BIRTH = datetime.date(1900, 1, 1)
EARLIEST_APPOINTMENT = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
APPOINTMENT_BOOKING_HORIZON = datetime.timedelta(days=5 * 365)
LONGEST_APPOINTMENT = datetime.timedelta(hours=24)


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError(message, fields={field: [message]})


def _check_date_of_birth(date_of_birth: datetime.date | None) -> None:
    if date_of_birth is None:
        return
    if date_of_birth < EARLIEST_DATE_OF_BIRTH:
        raise _invalid(
            "date_of_birth",
            _("The date of birth cannot be before %(date)s.") % {"date": formats.date_format(EARLIEST_DATE_OF_BIRTH)},
        )
    if date_of_birth > timezone.localdate() + datetime.timedelta(days=1):
        raise _invalid("date_of_birth", _("The date of birth cannot be in the future."))


def _check_appointment_window(field: str, moment: datetime.datetime) -> None:
    if moment < EARLIEST_APPOINTMENT:
        raise _invalid(
            field,
            _("Appointments cannot be before %(date)s.") % {"date": formats.date_format(EARLIEST_APPOINTMENT.date())},
        )
    latest = timezone.now() + APPOINTMENT_BOOKING_HORIZON
    if moment > latest:
        raise _invalid(
            field,
            _("Appointments can be booked at most five years ahead (until %(date)s).")
            % {"date": formats.date_format(latest.date())},
        )


def _check_times(starts_at: datetime.datetime, ends_at: datetime.datetime, *, changed: set[str]) -> None:
    if "starts_at" in changed:
        _check_appointment_window("starts_at", starts_at)
    if "ends_at" in changed:
        _check_appointment_window("ends_at", ends_at)
    if ends_at <= starts_at:
        raise _invalid("ends_at", _("The end must be after the start."))
    if changed and ends_at - starts_at >= LONGEST_APPOINTMENT:
        raise _invalid("ends_at", _("An appointment cannot last a day or longer: check the end date."))


def _patient_count_refresh_after_commit(practice: Practice) -> None:
    # robust: a broker outage must not fail a request whose data is already committed; the
    # dashboard counts directly when the cached figure is stale or missing.
    transaction.on_commit(lambda: patient_count_refresh.delay(practice.pk), robust=True)


@transaction.atomic
def patient_create(*, practice: Practice, **data: Any) -> Patient:
    _check_date_of_birth(data.get("date_of_birth"))
    patient_limit_check(practice=practice)
    patient = Patient.objects.create(**{key: data[key] for key in PATIENT_FIELDS if key in data})
    _patient_count_refresh_after_commit(practice)
    milestone_record(practice_id=practice.pk, key=MilestoneKey.FIRST_PATIENT)  # after commit
    return patient


def patient_update(*, practice: Practice, patient: Patient, **data: Any) -> Patient:
    # Compared with the stored row: a ModelForm has already copied its input onto `patient`.
    stored: Mapping[str, Any] = Patient.objects.filter(pk=patient.pk).values("date_of_birth").first() or {}
    if "date_of_birth" in data and data["date_of_birth"] != stored.get("date_of_birth"):
        _check_date_of_birth(data["date_of_birth"])
    for key in PATIENT_FIELDS:
        if key in data:
            setattr(patient, key, data[key])
    patient.save()
    return patient


def _appointment_milestones(practice: Practice, appointment: Appointment) -> None:
    # Named explicitly: this runs in the practice's schema, the milestones live in public.
    milestone_record(practice_id=practice.pk, key=MilestoneKey.FIRST_APPOINTMENT_BOOKED)
    if appointment.status == AppointmentStatus.COMPLETED:
        milestone_record(practice_id=practice.pk, key=MilestoneKey.FIRST_APPOINTMENT_COMPLETED)


def appointment_create(*, practice: Practice, **data: Any) -> Appointment:
    _check_times(data["starts_at"], data["ends_at"], changed={"starts_at", "ends_at"})
    appointment = Appointment.objects.create(**{key: data[key] for key in APPOINTMENT_FIELDS if key in data})
    _appointment_milestones(practice, appointment)
    return appointment


@transaction.atomic
def appointment_update(*, practice: Practice, appointment: Appointment, **data: Any) -> Appointment:
    stored: Mapping[str, Any] = (
        Appointment.objects.filter(pk=appointment.pk).values("starts_at", "ends_at").first() or {}
    )
    changed: set[str] = {key for key in ("starts_at", "ends_at") if key in data and data[key] != stored.get(key)}
    for key in APPOINTMENT_FIELDS:
        if key in data:
            setattr(appointment, key, data[key])
    _check_times(appointment.starts_at, appointment.ends_at, changed=changed)
    appointment.save()
    _appointment_milestones(practice, appointment)
    return appointment
