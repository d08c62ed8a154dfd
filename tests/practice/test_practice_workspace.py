"""Patients and appointments: pages and API inside a practice."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from practice.models import Appointment, Patient
from tenants.models import JoinedVia, Membership, Practice, Role, User
from tests.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.django_db

Pair = tuple[User, Practice]


def test_owner_creates_lists_and_edits_patients_in_pages(practice_a: Pair, client_for: Callable[..., Client]) -> None:
    owner, alpha = practice_a
    client = client_for(owner, alpha)

    assert client.get("/patients/new/").status_code == 200
    response = client.post("/patients/new/", {"first_name": "Maria", "last_name": "Schmidt", "email": "m@example.com"})
    assert response.status_code == 302
    with tenant_context(alpha):
        patient = Patient.objects.get()
    listing = client.get("/patients/")
    assert b"Schmidt, Maria" in listing.content
    assert client.get("/patients/?q=schm").context["page"].paginator.count == 1

    response = client.post(f"/patients/{patient.pk}/edit/", {"first_name": "Maria", "last_name": "Schmidt-Lang"})
    assert response.status_code == 302
    with tenant_context(alpha):
        assert Patient.objects.get().last_name == "Schmidt-Lang"


def test_patient_form_errors_are_shown_beside_the_field(practice_a: Pair, client_for: Callable[..., Client]) -> None:
    owner, alpha = practice_a
    response = client_for(owner, alpha).post("/patients/new/", {"first_name": "", "last_name": "X", "email": "bad"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"first_name", "email"}
    with tenant_context(alpha):
        assert not Patient.objects.exists()


def test_appointment_pages_and_end_before_start_error(practice_a: Pair, client_for: Callable[..., Client]) -> None:
    owner, alpha = practice_a
    with tenant_context(alpha):
        patient = PatientFactory()
    client = client_for(owner, alpha)
    starts = (timezone.now() + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    earlier = (timezone.now() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    bad = client.post(
        "/appointments/new/", {"patient": patient.pk, "starts_at": starts, "ends_at": earlier, "status": "scheduled"}
    )
    assert bad.status_code == 400
    assert "after the start" in bad.context["form"].errors["ends_at"][0]

    later = (timezone.now() + datetime.timedelta(days=2, hours=1)).strftime("%Y-%m-%dT%H:%M")
    good = client.post(
        "/appointments/new/", {"patient": patient.pk, "starts_at": starts, "ends_at": later, "status": "scheduled"}
    )
    assert good.status_code == 302
    assert patient.last_name.encode() in client.get("/appointments/").content
    with tenant_context(alpha):
        appointment = Appointment.objects.get()
    edit = client.post(
        f"/appointments/{appointment.pk}/edit/",
        {"patient": patient.pk, "starts_at": starts, "ends_at": later, "status": "completed"},
    )
    assert edit.status_code == 302
    with tenant_context(alpha):
        assert Appointment.objects.get().status == "completed"


def test_patient_and_appointment_api_crud_and_error_shape(practice_a: Pair, client_for: Callable[..., Client]) -> None:
    owner, alpha = practice_a
    api = client_for(owner, alpha)

    created = api.post(
        "/api/patients/", {"first_name": "Olga", "last_name": "Smirnova"}, content_type="application/json"
    )
    assert created.status_code == 201
    patient_id = created.json()["id"]
    assert api.get("/api/patients/").json()["count"] == 1
    patched = api.patch(f"/api/patients/{patient_id}/", {"phone": "+49 30 1234"}, content_type="application/json")
    assert patched.status_code == 200 and patched.json()["phone"] == "+49 30 1234"

    invalid = api.post("/api/patients/", {"first_name": ""}, content_type="application/json")
    assert invalid.status_code == 400
    assert set(invalid.json()["error"]["fields"]) == {"first_name", "last_name"}

    starts = timezone.now() + datetime.timedelta(days=1)
    reversed_times = api.post(
        "/api/appointments/",
        {
            "patient": patient_id,
            "starts_at": starts.isoformat(),
            "ends_at": (starts - datetime.timedelta(hours=1)).isoformat(),
        },
        content_type="application/json",
    )
    assert reversed_times.status_code == 400
    assert reversed_times.json()["error"]["fields"]["ends_at"] == ["The end must be after the start."]

    unknown_patient = api.post(
        "/api/appointments/",
        {
            "patient": 999999,
            "starts_at": starts.isoformat(),
            "ends_at": (starts + datetime.timedelta(hours=1)).isoformat(),
        },
        content_type="application/json",
    )
    assert unknown_patient.status_code == 400 and "patient" in unknown_patient.json()["error"]["fields"]

    ok = api.post(
        "/api/appointments/",
        {
            "patient": patient_id,
            "starts_at": starts.isoformat(),
            "ends_at": (starts + datetime.timedelta(hours=1)).isoformat(),
        },
        content_type="application/json",
    )
    assert ok.status_code == 201 and ok.json()["status"] == "scheduled"
    assert api.delete(f"/api/patients/{patient_id}/").status_code == 405
    malformed = api.generic("POST", "/api/patients/", "{not json", content_type="application/json")
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "parse_error"


@pytest.mark.practice_rows_only("bravo")
def test_assistant_reads_but_cannot_write(
    practice_a: Pair, practice_b: Pair, client_for: Callable[..., Client]
) -> None:
    _, alpha = practice_a
    owner_b, _ = practice_b
    Membership.objects.create(user=owner_b, practice=alpha, role=Role.ASSISTANT, joined_via=JoinedVia.INVITATION)
    with tenant_context(alpha):
        patient = PatientFactory(last_name="Visible")
        AppointmentFactory(patient=patient)
    client = client_for(owner_b, alpha)

    page = client.get("/patients/")
    assert page.status_code == 200 and b"Visible" in page.content and b'data-testid="read-only"' in page.content
    assert client.get("/patients/new/").status_code == 403
    assert client.post(f"/patients/{patient.pk}/edit/", {"first_name": "X", "last_name": "Y"}).status_code == 403
    assert client.get("/api/patients/").status_code == 200
    denied = client.patch(f"/api/patients/{patient.pk}/", {"last_name": "Y"}, content_type="application/json")
    assert denied.status_code == 403 and "Edit patients" in denied.json()["error"]["message"]
    assert client.post("/api/appointments/", {}, content_type="application/json").status_code == 403
    with tenant_context(alpha):
        assert Patient.objects.get().last_name == "Visible"


def test_openapi_schema_lists_the_practice_endpoints(practice_a: Pair, client_for: Callable[..., Client]) -> None:
    owner, alpha = practice_a
    schema = client_for(owner, alpha).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert {"/api/patients/", "/api/appointments/{id}/"} <= set(schema["paths"])
    assert client_for(owner, alpha).get("/api/docs/").status_code == 200
