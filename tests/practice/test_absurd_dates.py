"""Absurd dates (a birth in 9999, appointments in years 1 and 9999) are refused with the field
named, on the pages and in the API alike (the rule lives in practice.services), and nothing is
stored; rows that predate the rule stay editable."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from practice.models import Appointment, Patient
from tenants.models import Practice, User
from tests.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.django_db

Pair = tuple[User, Practice]
ClientFor = Callable[..., Client]


def _patient(**changes: object) -> dict[str, object]:
    return {"first_name": "Maria", "last_name": "Schmidt", **changes}


ABSURD_BIRTHS = [
    ("9999-12-31", "cannot be in the future"),
    ((datetime.date.today() + datetime.timedelta(days=3)).isoformat(), "cannot be in the future"),
    ("1899-12-31", "cannot be before"),
    ("0001-01-01", "cannot be before"),
]


def test_api_refuses_an_absurd_date_of_birth_and_stores_nothing(practice_a: Pair, client_for: ClientFor) -> None:
    owner, alpha = practice_a
    api = client_for(owner, alpha)
    for date_of_birth, message in ABSURD_BIRTHS:
        response = api.post("/api/patients/", _patient(date_of_birth=date_of_birth), content_type="application/json")
        assert response.status_code == 400, (date_of_birth, response.content)
        error = response.json()["error"]
        assert list(error["fields"]) == ["date_of_birth"] and message in error["fields"]["date_of_birth"][0]
        assert message in error["message"]
    with tenant_context(alpha):
        assert not Patient.objects.exists()


def test_sane_dates_of_birth_are_accepted(practice_a: Pair, client_for: ClientFor) -> None:
    owner, alpha = practice_a
    api = client_for(owner, alpha)
    for date_of_birth in ("1900-01-01", timezone.localdate().isoformat(), "1985-06-30"):
        response = api.post("/api/patients/", _patient(date_of_birth=date_of_birth), content_type="application/json")
        assert response.status_code == 201, response.content
    with tenant_context(alpha):
        assert Patient.objects.count() == 3


def test_api_patch_refuses_a_future_birth_and_keeps_the_stored_one(practice_a: Pair, client_for: ClientFor) -> None:
    owner, alpha = practice_a
    with tenant_context(alpha):
        patient = PatientFactory(date_of_birth=datetime.date(1980, 1, 1))
    response = client_for(owner, alpha).patch(
        f"/api/patients/{patient.pk}/", {"date_of_birth": "9999-12-31"}, content_type="application/json"
    )
    assert response.status_code == 400 and "date_of_birth" in response.json()["error"]["fields"]
    with tenant_context(alpha):
        assert Patient.objects.get().date_of_birth == datetime.date(1980, 1, 1)


def test_patient_page_shows_the_date_of_birth_error_beside_the_field(practice_a: Pair, client_for: ClientFor) -> None:
    owner, alpha = practice_a
    client = client_for(owner, alpha)
    response = client.post("/patients/new/", _patient(date_of_birth="9999-12-31"))
    assert response.status_code == 400
    assert "cannot be in the future" in response.context["form"].errors["date_of_birth"][0]
    assert b'id="id_date_of_birth-errors"' in response.content
    with tenant_context(alpha):
        patient = PatientFactory(date_of_birth=datetime.date(1980, 1, 1))
    edit = client.post(f"/patients/{patient.pk}/edit/", _patient(date_of_birth="1800-01-01"))
    assert edit.status_code == 400 and "cannot be before" in edit.context["form"].errors["date_of_birth"][0]
    with tenant_context(alpha):
        assert Patient.objects.count() == 1 and Patient.objects.get().date_of_birth == datetime.date(1980, 1, 1)


def _appointment(patient_id: int, starts: str, ends: str) -> dict[str, object]:
    return {"patient": patient_id, "starts_at": starts, "ends_at": ends, "status": "scheduled"}


ABSURD_APPOINTMENTS = [
    ("0001-01-01T09:00:00Z", "0001-01-01T10:00:00Z", "starts_at", "cannot be before"),
    ("1999-12-31T09:00:00Z", "1999-12-31T10:00:00Z", "starts_at", "cannot be before"),
    ("9999-12-31T09:00:00Z", "9999-12-31T10:00:00Z", "starts_at", "at most five years ahead"),
    ("2026-03-02T09:00:00Z", "9999-12-31T10:00:00Z", "ends_at", "at most five years ahead"),
    ("2026-03-02T09:00:00Z", "2026-03-04T10:00:00Z", "ends_at", "a day or longer"),
]


def test_api_refuses_appointments_outside_the_window_and_stores_nothing(
    practice_a: Pair, client_for: ClientFor
) -> None:
    owner, alpha = practice_a
    with tenant_context(alpha):
        patient = PatientFactory()
    api = client_for(owner, alpha)
    for starts, ends, field, message in ABSURD_APPOINTMENTS:
        response = api.post(
            "/api/appointments/", _appointment(patient.pk, starts, ends), content_type="application/json"
        )
        assert response.status_code == 400, (starts, ends, response.content)
        fields = response.json()["error"]["fields"]
        assert list(fields) == [field] and message in fields[field][0]
    ok = api.post(
        "/api/appointments/",
        _appointment(patient.pk, "2026-03-02T09:00:00Z", "2026-03-02T09:45:00Z"),
        content_type="application/json",
    )
    assert ok.status_code == 201, ok.content
    with tenant_context(alpha):
        assert Appointment.objects.count() == 1


def test_appointment_page_shows_the_window_error_beside_the_field(practice_a: Pair, client_for: ClientFor) -> None:
    owner, alpha = practice_a
    with tenant_context(alpha):
        patient = PatientFactory()
    response = client_for(owner, alpha).post(
        "/appointments/new/", _appointment(patient.pk, "0001-01-01T09:00", "0001-01-01T10:00")
    )
    assert response.status_code == 400
    assert "cannot be before" in response.context["form"].errors["starts_at"][0]
    with tenant_context(alpha):
        assert not Appointment.objects.exists()


def test_a_row_from_before_the_rule_stays_editable(practice_a: Pair, client_for: ClientFor) -> None:
    """An appointment stored in 1999 (an import) can still be marked completed; moving it to an
    absurd date is refused."""
    owner, alpha = practice_a
    starts = datetime.datetime(1999, 6, 1, 9, 0, tzinfo=datetime.UTC)
    with tenant_context(alpha):
        appointment = AppointmentFactory(starts_at=starts, ends_at=starts + datetime.timedelta(minutes=30))
    api = client_for(owner, alpha)
    done = api.patch(f"/api/appointments/{appointment.pk}/", {"status": "completed"}, content_type="application/json")
    assert done.status_code == 200, done.content
    page = client_for(owner, alpha).post(
        f"/appointments/{appointment.pk}/edit/",
        {**_appointment(appointment.patient_id, "1999-06-01T09:00", "1999-06-01T09:30"), "status": "no_show"},
    )
    assert page.status_code == 302
    moved = api.patch(
        f"/api/appointments/{appointment.pk}/", {"ends_at": "9999-01-01T00:00:00Z"}, content_type="application/json"
    )
    assert moved.status_code == 400 and "ends_at" in moved.json()["error"]["fields"]
    with tenant_context(alpha):
        stored = Appointment.objects.get()
    assert stored.status == "no_show" and stored.ends_at == starts + datetime.timedelta(minutes=30)
