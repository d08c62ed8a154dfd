from __future__ import annotations

import datetime

import factory
from django.utils import timezone

from practice.models import Appointment, Patient
from tenants.models import User

DEFAULT_PASSWORD = "a-Strong-pass-123"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            obj.save()


class PatientFactory(factory.django.DjangoModelFactory):
    """Create inside the practice's schema (tenant_context)."""

    class Meta:
        model = Patient

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = datetime.date(1980, 1, 1)
    email = factory.Sequence(lambda n: f"patient{n}@example.com")


class AppointmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Appointment

    patient = factory.SubFactory(PatientFactory)
    starts_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=1))
    ends_at = factory.LazyAttribute(lambda obj: obj.starts_at + datetime.timedelta(minutes=30))
    reason = "Check-up"
