"""The suite's own practice fixtures keep their promise: a practice marked rows-only has every
public row the signup service writes and no schema, and a test that enters its tables fails."""

from __future__ import annotations

import pytest
from django.db import ProgrammingError, connection, transaction
from django_tenants.utils import tenant_context

from practice.models import Patient
from tenants.models import Domain, JoinedVia, Membership, Practice, Role, User

Pair = tuple[User, Practice]


def schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


@pytest.mark.django_db
@pytest.mark.practice_rows_only("bravo")
def test_a_rows_only_practice_has_its_public_rows_and_no_schema(practice_a: Pair, practice_b: Pair) -> None:
    _, alpha = practice_a
    owner_b, bravo = practice_b
    assert schema_exists(alpha.schema_name) and not schema_exists(bravo.schema_name)
    assert Domain.objects.get(tenant=bravo).domain == "bravo.dentaltap.localhost"
    membership = Membership.objects.get(practice=bravo)
    assert (membership.user, membership.role, membership.joined_via) == (
        owner_b,
        Role.OWNER,
        JoinedVia.CREATED_PRACTICE,
    )
    assert bravo.plan == "freemium"

    with tenant_context(alpha):
        assert Patient.objects.count() == 0
    missing = pytest.raises(ProgrammingError, match='relation "practice_patient" does not exist')
    with missing, transaction.atomic(), tenant_context(bravo):
        Patient.objects.count()
