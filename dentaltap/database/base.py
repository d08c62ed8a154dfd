"""django-tenants' PostgreSQL backend, safe behind PgBouncer in transaction mode.

django-tenants picks a practice by `SET search_path` on the connection. Behind PgBouncer in
session mode that is fine: a client keeps its server connection. In transaction mode each
transaction (and each statement in autocommit) may run on another server connection, so a
`SET` issued on one is not there for the next statement, and it is left behind for whichever
client gets that server connection next: another practice's request would read this one's
tables. PgBouncer 1.20 can track `search_path` (`track_extra_parameters`); Debian 12 ships 1.18.

So with `PGBOUNCER_POOL_MODE = "transaction"` in the connection's settings every statement
carries its own search path: `SET LOCAL search_path = "<schema>", "public"; <statement>` goes
to the server as one message (psycopg2 binds parameters client-side and sends one simple
query), which PostgreSQL runs as one transaction (or inside the open one), on one server
connection. `SET LOCAL` ends with the transaction: nothing is left on the server connection
for the next client. Without the setting the backend is django-tenants' own, unchanged.

Transaction mode also needs `DISABLE_SERVER_SIDE_CURSORS` (a named cursor lives across
statements; `dentaltap.database.pooled_database_settings` sets it) and no session state: session advisory locks,
`LISTEN`, prepared statements and `COPY` through `copy_expert` go over a direct connection
(docs/operations.md). The few statements PostgreSQL refuses inside a transaction block
(`CREATE/DROP DATABASE`, `VACUUM`, `... CONCURRENTLY`) and the savepoint statements are sent
without the prefix.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg2.extensions
import psycopg2.sql
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations
from django_tenants.postgresql_backend import base as tenants_base
from django_tenants.utils import quote_schema_name

from dentaltap.database import TRANSACTION_MODE

SEARCH_PATH_PREFIX = "SET LOCAL search_path = "
# Sent as they are, without a search path (they need none): what PostgreSQL will not run inside a
# transaction block, and the savepoint statements (`ROLLBACK TO SAVEPOINT` must be the first
# statement after an error: a `SET LOCAL` before it would be refused in the aborted transaction).
_AS_THEY_ARE = re.compile(
    r"^\s*(?:(?:CREATE|DROP)\s+DATABASE|VACUUM|SAVEPOINT|RELEASE|ROLLBACK)\b|\bCONCURRENTLY\b", re.IGNORECASE
)


class SearchPathCursor(psycopg2.extensions.cursor):
    """A psycopg2 cursor that sends its connection's search path with every statement."""

    wrapper: DatabaseWrapper

    def _with_search_path(self, query: Any) -> Any:
        prefix = self.wrapper.search_path_statement()
        if isinstance(query, bytes):
            query_text = query.decode()
        elif isinstance(query, str):
            query_text = query
        else:  # a psycopg2.sql.Composable
            return psycopg2.sql.Composed([psycopg2.sql.SQL(prefix), query])
        if _AS_THEY_ARE.search(query_text):
            return query
        return prefix + query_text

    def execute(self, query: Any, vars: Any = None) -> None:
        super().execute(self._with_search_path(query), vars)

    def executemany(self, query: Any, vars_list: Any) -> None:
        super().executemany(self._with_search_path(query), vars_list)


class DatabaseOperations(PostgresOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str:
        """The statement as the code wrote it: query logs and CaptureQueriesContext do not show
        the search path prefix (the statement's schema is `connection.schema_name`)."""
        query = super().last_executed_query(cursor, sql, params)
        if query and query.startswith(SEARCH_PATH_PREFIX):
            return query.split("; ", 1)[1]
        return query


class DatabaseWrapper(tenants_base.DatabaseWrapper):
    ops_class = DatabaseOperations

    @property
    def transaction_pooled(self) -> bool:
        return self.settings_dict.get("PGBOUNCER_POOL_MODE") == TRANSACTION_MODE

    def search_path_statement(self) -> str:
        """`SET LOCAL search_path = ...; ` for the schema selected now (set_tenant/set_schema)."""
        schemas = self._get_cursor_search_paths()  # validated schema names
        return SEARCH_PATH_PREFIX + ", ".join(quote_schema_name(schema) for schema in schemas) + "; "

    def create_cursor(self, name: str | None = None) -> Any:
        if not self.transaction_pooled:
            return super().create_cursor(name)
        if name:
            raise ImproperlyConfigured(
                "A server-side cursor cannot live behind PgBouncer in transaction mode: "
                "set DISABLE_SERVER_SIDE_CURSORS (dentaltap.database.pooled_database_settings)."
            )
        assert self.connection is not None  # noqa: S101 - Django connects before it creates a cursor
        cursor = self.connection.cursor(cursor_factory=SearchPathCursor)
        cursor.wrapper = self
        cursor.tzinfo_factory = self.tzinfo_factory if settings.USE_TZ else None
        return cursor

    # The path this connection's server session is on, as far as it is known for sure: set when a
    # `SET search_path` succeeded, forgotten whenever the server may have dropped it.
    _server_search_path: list[str] | None = None
    search_path_set_schemas: list[str] | None  # django-tenants': the path its last SET sent

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None:
        """django-tenants forgets the path it set on every `set_tenant` (and the tenant middleware
        passes through the public schema first), so each request sent `SET search_path` again
        even when its practice is the one this connection's session is already on (a dentist's
        next click, served by the same thread). Not sent again when the path is the one the server
        is on: whatever can change that forgets it (a rollback or a savepoint rollback, which
        revert a `SET` issued inside them; closing or losing the connection), and any other
        schema, or the same one with another include_public, sends it. Transaction mode sends the
        path with every statement anyway."""
        super().set_tenant(tenant, include_public)
        server = self._server_search_path
        if server and not self.transaction_pooled and server == self._get_cursor_search_paths():
            self.search_path_set_schemas = server

    def close(self) -> None:
        self._server_search_path = None
        super().close()

    def _commit(self) -> None:
        """PostgreSQL answers the COMMIT of an aborted transaction with a ROLLBACK and no error
        (an error caught inside the atomic block without a savepoint: Django does not know the
        transaction is aborted and commits), and a COMMIT that fails rolls back too: either way a
        `SET` issued in the transaction is reverted, so the path is forgotten (django-tenants' own
        too: the same request's next statement must send it again)."""
        raw = self.connection
        aborted = raw is not None and raw.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_INERROR
        try:
            super()._commit()
        except BaseException:
            aborted = True
            raise
        finally:
            if aborted:
                self._server_search_path = None
                self.search_path_set_schemas = None

    def rollback(self) -> None:
        self._server_search_path = None
        super().rollback()

    def savepoint_rollback(self, sid: str) -> None:
        try:
            super().savepoint_rollback(sid)
        finally:
            self._server_search_path = None

    def _handle_search_path(self, cursor: Any = None) -> None:
        if not self.transaction_pooled:
            super()._handle_search_path(cursor)
            if self.search_path_set_schemas and not self._setting_search_path:
                self._server_search_path = list(self.search_path_set_schemas)
            return
        # No session-level SET: each statement carries its own (SearchPathCursor).
        if not self.schema_name:
            raise ImproperlyConfigured("Database schema not set. Did you forget to call set_schema() or set_tenant()?")
        self.search_path_set_schemas = self._get_cursor_search_paths()
