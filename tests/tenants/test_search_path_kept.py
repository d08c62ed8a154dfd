"""The connection keeps its `SET search_path` while the practice stays the same (dentaltap.database):
a thread's next request for the practice it is already on sends no `SET`; another practice, a
rollback that reverted the `SET`, or a closed connection always sends it again. Seen from the
attacker's side: after practice B's request, practice A's request never reads B's patients."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from practice.models import Patient
from tenants.models import Practice

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _a_session_search_path() -> None:
    """What these tests count is the session-level `SET search_path`; behind PgBouncer in
    transaction mode (DENTALTAP_TEST_PGBOUNCER_MODE=transaction) there is none to keep: every
    statement carries its own `SET LOCAL` (tests/project/test_pgbouncer_isolation.py)."""
    if connection.transaction_pooled:  # type: ignore[attr-defined]
        pytest.skip("transaction mode sends the search path with every statement: no session path is kept")


def _sets(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if query["sql"].startswith("SET search_path")]


def _server_path() -> str:
    """The path the server is on now, read on the raw connection (Django's cursor would first
    send the path it thinks is due)."""
    assert connection.connection is not None
    with connection.connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        return str(cursor.fetchone()[0])


@pytest.fixture
def two_practices(make_practice: Any) -> tuple[Any, Any]:
    _alice, practice_a = make_practice("alpha")
    _bob, practice_b = make_practice("bravo")
    with schema_context(practice_a.schema_name):
        Patient.objects.create(first_name="Anna", last_name="Alpha")
    with schema_context(practice_b.schema_name):
        Patient.objects.bulk_create([Patient(first_name="Boris", last_name=f"Bravo {n}") for n in range(3)])
    connection.set_schema_to_public()
    return practice_a, practice_b


def test_the_same_practice_again_sends_no_set_another_one_does(two_practices: tuple[Any, Any]) -> None:
    practice_a, practice_b = two_practices
    connection.set_tenant(practice_a)
    with CaptureQueriesContext(connection) as first:
        assert Patient.objects.count() == 1
    connection.set_schema_to_public()  # the tenant middleware passes through public first
    connection.set_tenant(practice_a)  # the next request, same practice, same thread
    with CaptureQueriesContext(connection) as again:
        assert Patient.objects.count() == 1
    connection.set_tenant(practice_b)
    with CaptureQueriesContext(connection) as other:
        assert Patient.objects.count() == 3
    connection.set_schema_to_public()
    with CaptureQueriesContext(connection) as public:
        assert Practice.objects.filter(pk=practice_b.pk).exists()  # a public request between
    connection.set_tenant(practice_b)
    with CaptureQueriesContext(connection) as back:
        assert Patient.objects.count() == 3
    connection.set_schema_to_public()
    assert len(_sets(first)) == 1 and _sets(again) == [] and len(_sets(other)) == 1
    assert _sets(public) == ['SET search_path = "public"'] and len(_sets(back)) == 1


def test_a_rolled_back_set_is_sent_again_so_a_never_reads_bs_patients(two_practices: tuple[Any, Any]) -> None:
    """B's request leaves the server on B's path. A's first statement runs in a transaction that
    rolls back: PostgreSQL reverts that `SET`, so the server is on B's path again. A's next
    request (same practice, same connection) must set A's path again, not trust the kept one."""
    practice_a, practice_b = two_practices
    connection.set_tenant(practice_b)
    assert Patient.objects.count() == 3
    connection.set_tenant(practice_a)
    with pytest.raises(RuntimeError), transaction.atomic():
        assert Patient.objects.count() == 1  # SET A inside the transaction
        raise RuntimeError("the request fails")
    assert "practice_bravo" in _server_path()  # reverted by the rollback

    connection.set_tenant(practice_a)
    assert Patient.objects.count() == 1
    assert list(Patient.objects.values_list("last_name", flat=True)) == ["Alpha"]
    assert "practice_alpha" in _server_path()

    # The same inside a savepoint: ROLLBACK TO SAVEPOINT reverts a SET issued after it.
    connection.set_tenant(practice_b)
    assert Patient.objects.count() == 3
    with transaction.atomic():
        connection.set_tenant(practice_a)
        with pytest.raises(RuntimeError), transaction.atomic():
            assert Patient.objects.count() == 1
            raise RuntimeError("a nested step fails")
        connection.set_tenant(practice_a)
        assert Patient.objects.count() == 1
    connection.set_schema_to_public()


def test_a_new_connection_sets_the_path_again(two_practices: tuple[Any, Any]) -> None:
    practice_a, _practice_b = two_practices
    connection.set_tenant(practice_a)
    assert Patient.objects.count() == 1
    connection.close()
    connection.set_tenant(practice_a)
    with CaptureQueriesContext(connection) as after_reconnect:
        assert Patient.objects.count() == 1
    connection.set_schema_to_public()
    assert len(_sets(after_reconnect)) == 1


def test_a_commit_that_postgresql_turns_into_a_rollback_forgets_the_path(two_practices: tuple[Any, Any]) -> None:
    """An error caught inside the atomic block (no savepoint, so Django does not know the
    transaction is aborted) makes the block's COMMIT a ROLLBACK on the server, with no error:
    the `SET` A issued inside it is reverted and the server is on B's path again."""
    practice_a, practice_b = two_practices
    connection.set_tenant(practice_b)
    assert Patient.objects.count() == 3
    connection.set_tenant(practice_a)
    with transaction.atomic():
        assert Patient.objects.count() == 1  # SET A inside the transaction
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1/0")
        except DataError:
            pass  # caught: the transaction is aborted, its COMMIT rolls back
    assert "practice_bravo" in _server_path()
    assert list(Patient.objects.values_list("last_name", flat=True)) == ["Alpha"]  # the same request

    connection.set_tenant(practice_b)
    assert Patient.objects.count() == 3
    connection.set_tenant(practice_a)
    with transaction.atomic():
        assert Patient.objects.count() == 1
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1/0")
        except DataError:
            pass
    connection.set_schema_to_public()
    connection.set_tenant(practice_a)  # A's next request on this thread
    assert list(Patient.objects.values_list("last_name", flat=True)) == ["Alpha"]
    connection.set_schema_to_public()
