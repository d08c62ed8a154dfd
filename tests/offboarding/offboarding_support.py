"""Helpers for the offboarding tests: a practice with data in every corner, and archives."""

from __future__ import annotations

import datetime
import io
import json
import zipfile
from typing import Any

from django.utils import timezone
from django_tenants.utils import tenant_context

from billing import stripe_gateway
from billing.models import Payment, PracticeAccount
from offboarding.services import Actor, practice_export
from practice.models import Appointment, AppointmentStatus, Patient
from tenants.models import Membership, PermissionCode, Practice, Role, User
from tests.billing_support import post_event, process_all
from tests.factories import UserFactory
from tests.stripe_helpers import invoice_paid

COMMAND = Actor(user=None, label="tests")


def practice_filled(practice: Practice, owner: User, *, tag: str) -> dict[str, Any]:
    """Patients (one with commas, quotes, a new line and Cyrillic in its notes), appointments, two
    more members, a Stripe customer and one paid invoice."""
    dentist = UserFactory(email=f"dentist-{tag}@example.com", full_name=f"Dentist {tag}")
    receptionist = UserFactory(email=f"desk-{tag}@example.com", language="de")
    Membership.objects.create(
        user=dentist,
        practice=practice,
        role=Role.DENTIST,
        joined_via="invitation",
        granted_permissions=[PermissionCode.MANAGE_BILLING],
    )
    Membership.objects.create(
        user=receptionist, practice=practice, role=Role.RECEPTIONIST, joined_via="invitation", status="suspended"
    )
    start = timezone.now().replace(microsecond=0) + datetime.timedelta(days=1)
    with tenant_context(practice):
        patients = [
            Patient.objects.create(first_name=f"Anna-{tag}", last_name="Schmidt", email=f"anna-{tag}@example.com"),
            Patient.objects.create(
                first_name=f"Иван-{tag}", last_name="Петров", notes='Allergic to "latex", penicillin\nsecond line'
            ),
            Patient.objects.create(
                first_name=f"Bob-{tag}", last_name="O'Brien", date_of_birth=datetime.date(1980, 2, 29)
            ),
        ]
        Appointment.objects.create(patient=patients[0], starts_at=start, ends_at=start + datetime.timedelta(minutes=30))
        Appointment.objects.create(
            patient=patients[1],
            starts_at=start - datetime.timedelta(days=3),
            ends_at=start - datetime.timedelta(days=3, minutes=-45),
            status=AppointmentStatus.COMPLETED,
            reason="Cleaning",
        )
    customer = stripe_gateway.customer_create(practice_id=practice.pk, name=practice.name, email=owner.email)
    PracticeAccount.objects.filter(practice=practice).update(stripe_customer_id=customer)
    post_event(invoice_paid(customer=customer, invoice_id=f"in_{tag}", amount=4900))
    process_all()
    assert Payment.objects.filter(practice=practice).count() == 1
    return {"dentist": dentist, "receptionist": receptionist, "customer": customer}


def exported(practice: Practice, reason: str = "Patient data request #42") -> tuple[io.BytesIO, dict[str, Any]]:
    out = io.BytesIO()
    result = practice_export(practice=practice, actor=COMMAND, reason=reason, out=out)
    out.seek(0)
    return out, result.manifest


def patients_of(practice: Practice) -> list[tuple[Any, ...]]:
    with tenant_context(practice):
        return list(
            Patient.objects.order_by("pk").values_list(
                "pk", "first_name", "last_name", "date_of_birth", "email", "phone", "notes", "created_at"
            )
        )


def appointments_of(practice: Practice) -> list[tuple[Any, ...]]:
    with tenant_context(practice):
        return list(
            Appointment.objects.order_by("pk").values_list(
                "pk", "patient_id", "starts_at", "ends_at", "status", "reason"
            )
        )


def memberships_of(practice: Practice) -> list[tuple[Any, ...]]:
    return sorted(
        Membership.objects.filter(practice=practice).values_list(
            "user__email", "role", "status", "granted_permissions", "revoked_permissions"
        )
    )


def archive_rewritten(archive: io.BytesIO, changes: dict[str, bytes]) -> io.BytesIO:
    """The same archive with some members' bytes replaced (manifest and signature untouched
    unless named)."""
    archive.seek(0)
    source = zipfile.ZipFile(archive)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            target.writestr(name, changes.get(name, source.read(name)))
    out.seek(0)
    return out


def manifest_of(archive: io.BytesIO) -> dict[str, Any]:
    archive.seek(0)
    manifest = json.loads(zipfile.ZipFile(archive).read("manifest.json"))
    archive.seek(0)
    return manifest
