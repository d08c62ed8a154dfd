"""No request ever sees another practice's schema behind PgBouncer in transaction mode.

django-tenants picks a practice with a session-level `SET search_path`. Through a transaction
pool that setting stays on whichever server connection ran it, for the next client; and a
client's next statement may run on another server connection. PgBouncer 1.20 can track
search_path (`track_extra_parameters`); Debian 12's is 1.18, so `dentaltap.database` sends the
search path with every statement instead (`SET LOCAL ...; <statement>`, one message, one
transaction). The first test shows the stock backend leaking through a pool of one server
connection; the others show ours not leaking, statement by statement and request by request."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg2
import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.utils import load_backend
from django.test import Client
from django_tenants.utils import tenant_context

from dentaltap.database import pooled_database_settings
from dentaltap.locks import advisory_lock_across
from tenants.models import Practice, User
from tests.factories import PatientFactory
from tests.pgbouncer_support import PGBOUNCER_MARKS, PgBouncer, running_pgbouncer

pytestmark = [pytest.mark.django_db(transaction=True), *PGBOUNCER_MARKS]

Pair = tuple[User, Practice]


@pytest.fixture
def two_practices(practice_a: Pair, practice_b: Pair) -> tuple[Pair, Pair]:
    for (_, practice), names in ((practice_a, ("AlphaOne", "AlphaTwo")), (practice_b, ("BravoOne",))):
        with tenant_context(practice):
            for name in names:
                PatientFactory(last_name=name)
    return practice_a, practice_b


def wrapper_with(pool_mode: str) -> Any:
    """A connection of its own (as another process or thread would have) in `pool_mode`."""
    settings = {**connections[DEFAULT_DB_ALIAS].settings_dict, **pooled_database_settings(pool_mode)}
    return load_backend(settings["ENGINE"]).DatabaseWrapper(settings, DEFAULT_DB_ALIAS)


def patient_names(wrapper: Any) -> list[str]:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT last_name FROM practice_patient ORDER BY last_name")
        return [row[0] for row in cursor.fetchall()]


def server_search_path(bouncer: PgBouncer) -> str:
    """What a client that sets nothing finds on the pool's server connection."""
    raw = psycopg2.connect(
        host=str(bouncer.folder), port=bouncer.port, user="postgres", dbname=connection.settings_dict["NAME"]
    )
    try:
        with raw.cursor() as cursor:
            cursor.execute("SHOW search_path")
            return str(cursor.fetchone()[0])
    finally:
        raw.close()


def test_the_stock_backend_reads_another_practices_rows_through_a_transaction_pool(
    two_practices: tuple[Pair, Pair],
) -> None:
    (_, alpha), (_, bravo) = two_practices
    with running_pgbouncer(mode="transaction", pool_size=1):
        first, second = wrapper_with(""), wrapper_with("")  # django-tenants' SET once per connection
        try:
            first.set_tenant(alpha)
            second.set_tenant(bravo)
            assert patient_names(first) == ["AlphaOne", "AlphaTwo"]
            assert patient_names(second) == ["BravoOne"]
            # first's own SET went with its last transaction; bravo's is on the one server connection.
            assert patient_names(first) == ["BravoOne"]
        finally:
            first.close()
            second.close()


def test_every_statement_carries_its_practice_and_leaves_nothing_on_the_server(
    two_practices: tuple[Pair, Pair],
) -> None:
    (_, alpha), (_, bravo) = two_practices
    with running_pgbouncer(mode="transaction", pool_size=1) as bouncer:
        first, second = wrapper_with("transaction"), wrapper_with("transaction")
        try:
            first.set_tenant(alpha)
            second.set_tenant(bravo)
            for _ in range(3):
                assert patient_names(first) == ["AlphaOne", "AlphaTwo"]
                assert patient_names(second) == ["BravoOne"]
                assert server_search_path(bouncer) == '"$user", public'
            # Inside a transaction too (it holds the one server connection until it ends), and
            # after switching practice within it; afterwards the other connection finds its own.
            first.set_autocommit(False)
            assert patient_names(first) == ["AlphaOne", "AlphaTwo"]
            first.set_tenant(bravo)
            assert patient_names(first) == ["BravoOne"]
            first.set_tenant(alpha)
            first.commit()
            first.set_autocommit(True)
            second.set_tenant(alpha)
            assert patient_names(second) == ["AlphaOne", "AlphaTwo"]
            assert patient_names(first) == ["AlphaOne", "AlphaTwo"]
            assert server_search_path(bouncer) == '"$user", public'
        finally:
            first.close()
            second.close()


@pytest.mark.parametrize("pool_size", [1, 2])
def test_interleaved_requests_of_two_practices_each_see_only_their_own_rows(
    two_practices: tuple[Pair, Pair], client_for: Callable[..., Client], pool_size: int
) -> None:
    """Four threads (two per practice) request pages and the API at once over one or two server
    connections: their statements interleave on the same server connections, request by
    request and statement by statement."""
    (owner_a, alpha), (owner_b, bravo) = two_practices
    expected = {alpha.slug: ["AlphaOne", "AlphaTwo"], bravo.slug: ["BravoOne"]}
    clients = [(alpha.slug, client_for(owner_a, alpha)), (bravo.slug, client_for(owner_b, bravo))] * 2
    seen: list[tuple[str, str, list[str]]] = []
    failures: list[BaseException] = []
    start = threading.Barrier(len(clients))

    def requests(slug: str, client: Client) -> None:
        try:
            start.wait()
            for _ in range(15):
                api = client.get("/api/patients/")
                assert api.status_code == 200, api.content
                seen.append((slug, "api", sorted(row["last_name"] for row in api.json()["results"])))
                page = client.get("/patients/")
                assert page.status_code == 200
                names = [name for names in expected.values() for name in names if name.encode() in page.content]
                seen.append((slug, "page", sorted(names)))
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            failures.append(error)
        finally:
            connection.close()  # this thread's own connection

    with running_pgbouncer(mode="transaction", pool_size=pool_size):
        threads = [threading.Thread(target=requests, args=pair) for pair in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not failures, failures
    assert len(seen) == len(clients) * 30
    assert all(names == expected[slug] for slug, _, names in seen), [row for row in seen if row[2] != expected[row[0]]]


def test_a_lock_across_a_stripe_call_holds_through_a_transaction_pool(practice_a: Pair) -> None:
    """The take-back lock (rewards/crediting.py) behind a transaction pool: a session lock's
    unlock there may reach another server connection; advisory_lock_across holds and ends."""

    def try_lock(wrapper: Any) -> bool:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", ["rewards:take-back:1"])
            return bool(cursor.fetchone()[0])

    with running_pgbouncer(mode="transaction", pool_size=2):
        other = wrapper_with("transaction")
        try:
            with advisory_lock_across("rewards:take-back:1"):
                assert try_lock(other) is False
                connection.set_tenant(practice_a[1])
                assert patient_names(connection) == []  # the work meanwhile, on the other server connection
            assert try_lock(other) is True
        finally:
            other.close()
            connection.set_schema_to_public()
