"""Create the public tenant and, on the first run only, demo practices, owners and patients.

A composition step (it builds practices, owners and their patients), so it lives in the top
layer; the public tenant itself is `tenants.services.public_tenant_ensure`."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from practice.models import Appointment, Patient
from tenants.models import Practice, User
from tenants.services import practice_create, public_tenant_ensure

DEMO_PASSWORD = "dentaltap-demo"  # noqa: S105 - printed for the local demo, never used in production
DEMO_PRACTICES = [
    ("Smile Dental", "smile", "owner@smile.example", "Dr. Anna Weber"),
    ("Northside Clinic", "northside", "owner@northside.example", "Dr. Ivan Petrov"),
]
DEMO_PATIENTS = [
    ("Maria", "Schmidt", datetime.date(1984, 3, 2)),
    ("Lukas", "Fischer", datetime.date(1991, 7, 19)),
    ("Olga", "Smirnova", datetime.date(1978, 11, 30)),
    ("Jonas", "Becker", datetime.date(2001, 1, 14)),
]


class Command(BaseCommand):
    help = "Ensure the public tenant; on first run create demo practices, owners and patients."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            public_tenant_ensure()
        if Practice.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).exists():
            self.stdout.write("Demo data already present; nothing to do.")
            return
        if not User.objects.filter(email="admin@dentaltap.example").exists():
            User.objects.create_superuser("admin@dentaltap.example", DEMO_PASSWORD, full_name="DentalTap Staff")
        now = timezone.now().replace(minute=0, second=0, microsecond=0)
        for name, slug, email, full_name in DEMO_PRACTICES:
            owner = User.objects.create_user(email, DEMO_PASSWORD, full_name=full_name)
            practice = practice_create(name=name, slug=slug, owner=owner)
            with tenant_context(practice):
                for index, (first, last, born) in enumerate(DEMO_PATIENTS):
                    patient = Patient.objects.create(
                        first_name=first,
                        last_name=last,
                        date_of_birth=born,
                        email=f"{first.lower()}.{last.lower()}@example.com",
                    )
                    starts_at = now + datetime.timedelta(days=index + 1, hours=9 - now.hour + index)
                    Appointment.objects.create(
                        patient=patient,
                        starts_at=starts_at,
                        ends_at=starts_at + datetime.timedelta(minutes=45),
                        reason="Check-up" if index % 2 == 0 else "Cleaning",
                    )
            self.stdout.write(f"Created demo practice {name} ({slug}) owned by {email}")
