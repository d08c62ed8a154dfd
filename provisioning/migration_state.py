"""Which migrations a practice schema must have, and which each schema has, cheaply.

"Latest" is what this process's code on disk says: every migration module of every installed
app (a tenant schema records the shared apps' migrations too, as no-ops), plus the names a
squashed migration replaces. A schema is up to date when its `django_migrations` holds all of
them (extra rows, e.g. from pruned migrations, do not matter): then Django's executor would
find nothing to do.

The expected set is read from disk once per process (one migration graph load); the applied
sets of any number of schemas come from one catalogue query that returns a digest per schema.
Schemas with the same digest have the same applied set, so deciding who is behind costs one
comparison per distinct digest, not a graph load per schema.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.migrations.loader import MigrationLoader

MigrationName = tuple[str, str]

# A set's digest: how many names, and the sum of their hashes (order does not matter, so no sort:
# this runs once per schema, 10,000 times in a deploy). PostgreSQL computes both sides.
DIGEST_EXPRESSION = "count(*)::text || ':' || coalesce(sum(hashtext(app || '.' || name)::bigint), 0)::text"
_DIGEST_SQL = "SELECT %s::text, " + DIGEST_EXPRESSION + " FROM {schema}.django_migrations"  # noqa: S608
CHUNK = 500


def migrations_digest(names: Iterable[MigrationName]) -> str:
    unique = sorted(set(names))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {DIGEST_EXPRESSION} FROM unnest(%s::text[], %s::text[]) AS m(app, name)",  # noqa: S608
            [[app for app, _ in unique], [name for _, name in unique]],
        )
        return cursor.fetchone()[0]  # type: ignore[no-any-return]


@functools.cache
def expected_migrations() -> frozenset[MigrationName]:
    """Every migration a fully migrated schema records, from this process's code (cached)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    names: set[MigrationName] = set(loader.disk_migrations)
    for migration in loader.disk_migrations.values():
        names.update(tuple(replaced) for replaced in migration.replaces)  # type: ignore[misc]
    return frozenset(names)


@functools.cache
def expected_digest() -> str:
    return migrations_digest(expected_migrations())


def is_current(applied: Iterable[MigrationName]) -> bool:
    return expected_migrations() <= set(applied)


def applied_digests(schemas: Sequence[str]) -> dict[str, str | None]:
    """{schema: digest of its applied migrations}, by one catalogue query for the schemas that
    have a django_migrations table and one UNION ALL query per CHUNK of them (a single
    statement over 10,000 schemas would hold 10,000 table locks at once). None: the schema or
    its django_migrations table is missing."""
    digests: dict[str, str | None] = dict.fromkeys(schemas)
    if not schemas:
        return digests
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'django_migrations' AND c.relkind = 'r' AND n.nspname = ANY(%s)",
            [list(schemas)],
        )
        present = sorted(name for (name,) in cursor.fetchall())
        for start in range(0, len(present), CHUNK):
            chunk = present[start : start + CHUNK]
            cursor.execute(" UNION ALL ".join(_DIGEST_SQL.format(schema=_identifier(name)) for name in chunk), chunk)
            digests.update(cursor.fetchall())
    return digests


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""').replace("%", "%%") + '"'  # %: the query carries parameters


def applied_migrations(schema: str) -> set[MigrationName] | None:
    """The applied set of one schema, or None when it has no django_migrations table."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(format('%%I.django_migrations', %s::text)) IS NOT NULL", [schema])
        if not cursor.fetchone()[0]:
            return None
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations')  # noqa: S608 - a checked schema name
        return {(app, name) for app, name in cursor.fetchall()}


def schemas_missing(schemas: Sequence[str]) -> dict[str, frozenset[MigrationName] | None]:
    """{schema: the migrations it lacks} for the schemas that are not up to date (None: it has
    no migrations table, or is gone). One catalogue pass, plus one query per distinct applied
    set that differs from the expected one."""
    digests = applied_digests(schemas)
    missing_by_digest: dict[str | None, frozenset[MigrationName] | None] = {expected_digest(): frozenset()}
    behind: dict[str, frozenset[MigrationName] | None] = {}
    for schema in schemas:
        digest = digests.get(schema)
        if digest not in missing_by_digest:
            applied = applied_migrations(schema) if digest is not None else None
            missing_by_digest[digest] = None if applied is None else frozenset(expected_migrations() - applied)
        missing = missing_by_digest[digest]
        if missing is None or missing:
            behind[schema] = missing
    return behind


def schemas_behind(schemas: Sequence[str]) -> dict[str, str]:
    """The schemas that are not up to date, each with the reason."""
    return {
        schema: "no migrations recorded" if missing is None else f"{len(missing)} migration(s) to apply"
        for schema, missing in schemas_missing(schemas).items()
    }
