"""How a committing test's database is put back (tests/conftest.py), without Django's flush.

Django's `TransactionTestCase` ends every committing test (transactional_db, live_server) with
`flush`: one TRUNCATE of every table (a new file for each table and index), then post_migrate
writing the content types and permissions again, and the suite then re-created the rows data
migrations made (plans, the house program, the ready messages): 0.3-0.6 s per test here.

Instead, right after the test database is migrated, `MigrationData.take` copies aside (COPY, in
memory) the rows of every table migrations left rows in, and `committed_state_reset` puts the
database back to exactly that in one transaction: drop the practice schemas the test made,
DELETE every public table Django's flush would empty, COPY the migrations' rows back. Triggers
and foreign-key checks are off for that transaction (`session_replication_role = replica`; the
append-only ledgers refuse DELETE by trigger, and every row goes anyway), so the order does not
matter. Restored rows keep their ids, as after migrations. That needs a superuser (the embedded
PostgreSQL's `postgres`); on a server where the suite is not one, `MigrationData.take` answers
None and the suite keeps Django's flush.

Deleted rows leave their pages behind until autovacuum, unlike TRUNCATE: a test that reads the
planner's choices makes its statistics first (see the index test in
tests/provisioning/test_provisioning.py)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

PRACTICE_SCHEMAS = "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'practice\\_%%'"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class MigrationData:
    """The public tables Django's flush empties, and the rows migrations left in some of them."""

    tables: tuple[str, ...]
    rows: dict[str, tuple[str, bytes]]  # table -> (its column list, COPY text of its rows)

    @classmethod
    def take(cls, connection: BaseDatabaseWrapper) -> MigrationData | None:
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            row = cursor.fetchone()
            if not (row and row[0]):
                return None
            tables = tuple(sorted(connection.introspection.django_table_names(only_existing=True, include_views=False)))
            rows: dict[str, tuple[str, bytes]] = {}
            for table in tables:
                cursor.execute(f"SELECT EXISTS (SELECT FROM public.{_quoted(table)})")  # noqa: S608 - quoted names
                if not cursor.fetchone()[0]:
                    continue
                cursor.execute(
                    "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
                    " AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
                    [f"public.{_quoted(table)}"],
                )
                columns = ", ".join(_quoted(name) for (name,) in cursor.fetchall())
                buffer = io.BytesIO()
                raw_cursor(cursor).copy_expert(f"COPY public.{_quoted(table)} ({columns}) TO STDOUT", buffer)
                rows[table] = (columns, buffer.getvalue())
        return cls(tables=tables, rows=rows)


def raw_cursor(cursor: Any) -> Any:
    """psycopg2's own cursor under Django's wrapper (and django-tenants')."""
    while hasattr(cursor, "cursor"):
        cursor = cursor.cursor
    return cursor


def committed_state_reset(connection: BaseDatabaseWrapper, data: MigrationData) -> None:
    """Back to the freshly migrated database, in one transaction: no practice schema, the
    public tables holding what migrations left there and nothing else."""
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(PRACTICE_SCHEMAS)
        statements = [f"DROP SCHEMA {_quoted(schema)} CASCADE" for (schema,) in cursor.fetchall()]
        statements += [f"DELETE FROM public.{_quoted(table)}" for table in data.tables]  # noqa: S608 - quoted
        cursor.execute(";\n".join(statements))
        for table, (columns, copied) in data.rows.items():
            raw_cursor(cursor).copy_expert(f"COPY public.{_quoted(table)} ({columns}) FROM STDIN", io.BytesIO(copied))
