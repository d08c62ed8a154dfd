"""A committing test leaves nothing behind for the next one (tests/database_support.py, put in
place by tests/conftest.py's django_db_setup): the next test meets exactly the freshly migrated
database, the rows migrations made (with their ids) and nothing else, and no practice schema.
The two tests run in this order (the suite does not shuffle)."""

from __future__ import annotations

import io

import pytest
from django.db import connection

from billing.models import Plan
from referrals.models import ReferralMessageTemplate
from rewards.models import ReferralProgram
from tenants.models import Practice, User
from tests import conftest
from tests.database_support import PRACTICE_SCHEMAS, MigrationData, raw_cursor

Pair = tuple[User, Practice]


def practice_schemas() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(PRACTICE_SCHEMAS)
        return [name for (name,) in cursor.fetchall()]


def table_rows(table: str, columns: str) -> list[bytes]:
    copied = io.BytesIO()
    with connection.cursor() as cursor:
        raw_cursor(cursor).copy_expert(f'COPY public."{table}" ({columns}) TO STDOUT', copied)
    return sorted(copied.getvalue().splitlines())


def migration_data() -> MigrationData:
    if not conftest._migration_data:
        pytest.skip("the database user is not a superuser: the suite uses Django's flush")
    return conftest._migration_data[0]


@pytest.mark.django_db(transaction=True)
def test_a_committing_test_writes_everywhere(practice_a: Pair, practice_b: Pair) -> None:
    migration_data()
    # Rows migrations made, changed and deleted; rows of the test's own; practice schemas.
    Plan.objects.filter(code="pro").update(name="Changed by a test", price_cents=1)
    ReferralMessageTemplate.objects.all().delete()
    ReferralProgram.objects.update(name="Renamed by a test")
    assert len(practice_schemas()) == 2 and Practice.objects.count() == 3  # with the public tenant


@pytest.mark.django_db(transaction=True)
def test_the_next_test_meets_the_freshly_migrated_database() -> None:
    data = migration_data()
    assert practice_schemas() == []
    assert {"billing_plan", "django_content_type", "auth_permission"} <= set(data.rows)
    for table in data.tables:
        if table in data.rows:
            columns, copied = data.rows[table]
            assert table_rows(table, columns) == sorted(copied.splitlines()), table
        else:
            with connection.cursor() as cursor:
                cursor.execute(f'SELECT count(*) FROM public."{table}"')  # noqa: S608 - the catalogue's names
                assert cursor.fetchone()[0] == 0, table
    assert Plan.objects.get(code="pro").name == "Pro"
