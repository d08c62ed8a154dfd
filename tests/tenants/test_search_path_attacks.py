"""The kept search path (dentaltap.database: no `SET search_path` when the server session is known
to be on the practice's path already) attacked from every side where the remembered path could
differ from the server's real one. Each test has practice B's request put the server on B's path,
then has A's request come after whatever could make the memory wrong, and checks that A reads
only A's patients (or fails loudly) -- never B's."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    DataError,
    InternalError,
    OperationalError,
    ProgrammingError,
    connection,
    connections,
    transaction,
)
from django.db.utils import InterfaceError, load_backend
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from dentaltap.database import pooled_database_settings
from practice.models import Patient
from provisioning.recipe import recipe_current
from tenants.tasks import run_in_practice
from tests.pgbouncer_support import running_pgbouncer

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT = Path(__file__).resolve().parents[2]


def _sets(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if query["sql"].startswith("SET search_path")]


def _names(using: Any = connection) -> list[str]:
    with using.cursor() as cursor:
        cursor.execute("SELECT last_name FROM practice_patient ORDER BY last_name")
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def two_practices(make_practice: Any) -> tuple[Any, Any]:
    _alice, practice_a = make_practice("alpha")
    _bob, practice_b = make_practice("bravo")
    with schema_context(practice_a.schema_name):
        Patient.objects.create(first_name="Anna", last_name="Alpha")
    with schema_context(practice_b.schema_name):
        Patient.objects.create(first_name="Boris", last_name="Bravo")
    connection.set_schema_to_public()
    return practice_a, practice_b


def test_a_durable_block_rolled_back_and_nested_savepoints(two_practices: tuple[Any, Any]) -> None:
    practice_a, practice_b = two_practices
    connection.set_tenant(practice_b)
    assert _names() == ["Bravo"]
    connection.set_tenant(practice_a)
    with pytest.raises(RuntimeError), transaction.atomic(durable=True):
        assert _names() == ["Alpha"]
        raise RuntimeError
    connection.set_tenant(practice_a)
    assert _names() == ["Alpha"]

    # B set in an inner savepoint that is released, the outer one then rolled back: A's SET before
    # the transaction is what the server is on; B must not be remembered.
    with pytest.raises(RuntimeError), transaction.atomic():
        with transaction.atomic():
            with transaction.atomic():
                connection.set_tenant(practice_b)
                assert _names() == ["Bravo"]
            connection.set_tenant(practice_a)
            assert _names() == ["Alpha"]
        raise RuntimeError
    connection.set_tenant(practice_b)
    assert _names() == ["Bravo"]
    connection.set_tenant(practice_a)
    assert _names() == ["Alpha"]
    connection.set_schema_to_public()


def test_a_set_refused_in_an_aborted_transaction_is_not_remembered(two_practices: tuple[Any, Any]) -> None:
    practice_a, practice_b = two_practices
    connection.set_tenant(practice_a)
    assert _names() == ["Alpha"]
    with transaction.atomic():
        with pytest.raises(DataError), connection.cursor() as cursor:
            cursor.execute("SELECT 1/0")  # caught here: Django does not know the transaction is aborted
        connection.set_tenant(practice_b)
        with pytest.raises(InternalError):  # B's SET refused (swallowed), then the query refused
            _names()
    connection.set_tenant(practice_b)
    assert _names() == ["Bravo"]
    connection.set_tenant(practice_a)
    assert _names() == ["Alpha"]
    connection.set_schema_to_public()


def test_a_statement_error_after_the_set_keeps_a_path_that_is_right(two_practices: tuple[Any, Any]) -> None:
    practice_a, practice_b = two_practices
    connection.set_tenant(practice_b)
    assert _names() == ["Bravo"]
    connection.set_tenant(practice_a)
    with pytest.raises(DataError), connection.cursor() as cursor:
        cursor.execute("SELECT 1/0")  # autocommit: A's SET before it stays
    connection.set_schema_to_public()
    connection.set_tenant(practice_a)
    with CaptureQueriesContext(connection) as queries:
        assert _names() == ["Alpha"]
    assert _sets(queries) == []
    connection.set_schema_to_public()


def _on_another_connection(sql: str, params: list[Any] | None = None) -> Any:
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with other.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone() if cursor.description else None
    finally:
        other.close()


def _terminate(pid: int) -> None:
    _on_another_connection("SELECT pg_terminate_backend(%s)", [pid])


def test_a_terminated_session_is_replaced_and_the_next_request_sets_its_path(
    two_practices: tuple[Any, Any],
) -> None:
    if connection.transaction_pooled:  # type: ignore[attr-defined]
        pytest.skip(
            "through a transaction pool the client's backend pid is PgBouncer's and a dead server "
            "connection is PgBouncer's to replace (tests/billing/test_webhook_ingest.py kills one)"
        )
    practice_a, practice_b = two_practices
    saved = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = None  # persistent, as in production (300 s)
    try:
        connection.close()
        connection.set_tenant(practice_a)
        assert _names() == ["Alpha"]
        assert connection.connection is not None
        _terminate(connection.connection.info.backend_pid)
        # The same request's next statement fails loudly (the kept path sends no SET first).
        connection.set_schema_to_public()
        connection.set_tenant(practice_a)
        with pytest.raises((OperationalError, InterfaceError)):
            _names()
        connection.close_if_unusable_or_obsolete()  # request_finished: the broken one is closed
        connection.set_tenant(practice_a)
        with CaptureQueriesContext(connection) as queries:
            assert _names() == ["Alpha"]
        assert len(_sets(queries)) == 1

        # Terminated between two requests: the health check (CONN_HEALTH_CHECKS) replaces it.
        assert connection.settings_dict["CONN_HEALTH_CHECKS"]
        _terminate(connection.connection.info.backend_pid)
        connection.close_if_unusable_or_obsolete()  # request_started
        connection.set_tenant(practice_a)
        with CaptureQueriesContext(connection) as queries:
            assert _names() == ["Alpha"]
        assert len(_sets(queries)) == 1
        connection.set_tenant(practice_b)
        assert _names() == ["Bravo"]
    finally:
        connection.set_schema_to_public()
        connection.close()
        connection.settings_dict["CONN_MAX_AGE"] = saved


def test_threads_keep_their_own_paths(two_practices: tuple[Any, Any]) -> None:
    """gunicorn --threads: each thread has its own connection, its own kept path."""
    practice_a, practice_b = two_practices
    turn = threading.Barrier(2)
    seen: dict[str, list[list[str]]] = {"alpha": [], "bravo": []}
    failures: list[BaseException] = []

    def requests(practice: Any) -> None:
        try:
            for _ in range(5):
                turn.wait()
                connection.set_schema_to_public()
                connection.set_tenant(practice)
                seen[practice.slug].append(_names())
        except BaseException as error:  # noqa: BLE001 - reported by the test
            failures.append(error)
            turn.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=requests, args=(practice,)) for practice in (practice_a, practice_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert seen == {"alpha": [["Alpha"]] * 5, "bravo": [["Bravo"]] * 5}


def test_a_worker_thread_running_tasks_of_two_practices(two_practices: tuple[Any, Any]) -> None:
    """A Celery worker's thread keeps its connection across tasks of different practices. A task
    whose transaction PostgreSQL rolled back at COMMIT reads again afterwards (it read B's rows
    before the commit check); the next task of the same practice is safe anyway, since
    run_in_practice looks the practice up in public first, which sends `SET` public."""
    practice_a, practice_b = two_practices

    def swallowed_error(_practice: Any) -> list[str]:
        with transaction.atomic():
            _names()
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1/0")
            except DataError:
                pass
        return _names()

    assert run_in_practice(practice_b.pk, lambda _practice: _names()) == ["Bravo"]
    assert run_in_practice(practice_a.pk, swallowed_error) == ["Alpha"]
    assert run_in_practice(practice_a.pk, lambda _practice: _names()) == ["Alpha"]
    assert run_in_practice(practice_b.pk, lambda _practice: _names()) == ["Bravo"]
    assert run_in_practice(practice_a.pk, lambda _practice: _names()) == ["Alpha"]
    assert connection.schema_name == "public"  # tenant_context puts the previous schema back


def _rename(old: str, new: str) -> None:
    _on_another_connection(f'ALTER SCHEMA "{old}" RENAME TO "{new}"')


def test_a_spare_renamed_for_its_practice_while_a_connection_remembers_the_spares_name(
    two_practices: tuple[Any, Any],
) -> None:
    """The path is names, resolved by PostgreSQL at each statement: after the claim renames the
    spare, the old name reaches nothing and the practice's name sends its own SET."""
    practice_a, practice_b = two_practices
    spare = "dentaltap_spare_review"
    _rename(practice_a.schema_name, spare)  # alpha's schema as a spare before its claim
    try:
        connection.set_schema(spare)
        assert _names() == ["Alpha"]  # kept: [spare, public]
        _rename(spare, practice_a.schema_name)  # the claim, from another connection
        connection.set_schema_to_public()
        connection.set_schema(spare)
        with pytest.raises(ProgrammingError):  # nobody's rows: the name is gone
            _names()
        connection.set_tenant(practice_a)
        with CaptureQueriesContext(connection) as queries:
            assert _names() == ["Alpha"]
        if not connection.transaction_pooled:  # type: ignore[attr-defined]  # there: every statement's own
            assert len(_sets(queries)) == 1
        connection.set_tenant(practice_b)
        assert _names() == ["Bravo"]
    finally:
        connection.set_schema_to_public()
        if _on_another_connection("SELECT 1 FROM pg_namespace WHERE nspname = %s", [spare]):
            _rename(spare, practice_a.schema_name)


def _wrapper(pool_mode: str) -> Any:
    """A connection of its own (as another process or thread has) through the running PgBouncer."""
    own = {**connections[DEFAULT_DB_ALIAS].settings_dict, **pooled_database_settings(pool_mode)}
    return load_backend(own["ENGINE"]).DatabaseWrapper(own, DEFAULT_DB_ALIAS)


@pytest.mark.pgbouncer
def test_through_a_transaction_pool_nothing_is_kept(two_practices: tuple[Any, Any]) -> None:
    """The server session changes under the client with every transaction: the path is never
    kept, every statement carries its own."""
    practice_a, practice_b = two_practices
    with running_pgbouncer(mode="transaction", pool_size=1):
        first, second = _wrapper("transaction"), _wrapper("transaction")
        try:
            for _ in range(3):
                first.set_schema_to_public()
                first.set_tenant(practice_a)
                second.set_tenant(practice_b)
                assert _names(first) == ["Alpha"]
                assert _names(second) == ["Bravo"]
                assert first._server_search_path is None and second._server_search_path is None
        finally:
            first.close()
            second.close()


@pytest.mark.pgbouncer
def test_through_a_session_pool_the_path_is_kept_per_client(two_practices: tuple[Any, Any]) -> None:
    """A session pool gives a client one server connection for its life: the kept path is right.
    A client that goes is replaced by a new one, which has nothing kept."""
    practice_a, practice_b = two_practices
    with running_pgbouncer(mode="session", pool_size=1):
        first = _wrapper("session")
        try:
            first.set_tenant(practice_b)
            assert _names(first) == ["Bravo"]
        finally:
            first.close()  # the server connection goes back to the pool on B's path (or reset)
        second = _wrapper("session")
        try:
            second.set_tenant(practice_a)
            assert _names(second) == ["Alpha"]
            second.set_schema_to_public()
            second.set_tenant(practice_a)
            with CaptureQueriesContext(second) as queries:
                assert _names(second) == ["Alpha"]
            assert _sets(queries) == []
        finally:
            second.close()


# What changes the server session's search path behind the backend's back: a session-level SET,
# set_config(..., false), RESET/DISCARD. Only django-tenants' backend (dentaltap/database) may.
_PATH_CHANGE = re.compile(
    r"SET\s+(SESSION\s+)?search_path|set_config\s*\(\s*['\"]search_path|RESET\s+(ALL|search_path)|DISCARD\s+ALL",
    re.IGNORECASE,
)


def test_no_project_code_changes_the_search_path_behind_the_backend() -> None:
    offenders = []
    for path in PROJECT.rglob("*.py"):
        relative = path.relative_to(PROJECT)
        if relative.parts[0] in {".venv", "tests", "bench", "node_modules"} or relative.parts[:2] == (
            "dentaltap",
            "database",
        ):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _PATH_CHANGE.search(line) and not line.lstrip().startswith("#"):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    # provisioning/recipe.py names the statement only to leave it out of a recording.
    assert [line for line in offenders if "_READ_ONLY = re.compile" not in line] == []
    assert settings.TENANT_LIMIT_SET_CALLS


def test_a_recorded_recipe_changes_no_search_path() -> None:
    recipe = recipe_current()
    assert recipe is not None
    assert not _PATH_CHANGE.search(recipe.statements)
