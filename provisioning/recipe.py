"""A practice schema in one round trip: the SQL of a real migration run, recorded and replayed.

Creating a schema the django-tenants way runs the whole migration graph in Python for every new
practice (about 0.5-1 s here, more with every migration). The SQL that run sends, though, is the
same every time: only the schema differs, and Django never names the schema in it (tables are
found through `search_path`). So, once per migration state:

1. in a scratch schema, inside a savepoint that is rolled back afterwards, the real migrate
   command runs (signals included, so content types are created as usual) while every statement
   it sends is recorded with its parameters bound;
2. reads are dropped (catalogue introspection, the executor's bookkeeping), and so are the
   migration rows, which are re-inserted at the end with the time of each replay;
3. the statements are replayed into a second scratch schema, and the two are compared in the
   catalogue (catalogue.schema_signature: tables, columns with their positions, types,
   defaults, constraints, indexes, sequences and their values, migration rows, content types).
   Only an identical result makes a recipe; otherwise creation falls back to migrations.

The recipe is stored in the public schema (one row per migration state, shared by every
process) and cached in memory. Replaying it is one multi-statement execute: its cost does not
depend on how many migrations the history has, only on what the final schema holds (and on the
history's DDL, which PostgreSQL runs in microseconds per statement).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django_tenants.utils import get_tenant_base_migrate_command_class, schema_context

from dentaltap.locks import advisory_lock
from provisioning import catalogue
from provisioning.migration_state import MigrationName, expected_digest, migrations_digest
from provisioning.models import SchemaRecipe

logger = logging.getLogger(__name__)

SCRATCH_PREFIX = "dentaltap_scratch_"
_LOCK_NAME = "dentaltap-provisioning-recipe"
_READ_ONLY = re.compile(r"^\s*(SELECT|SHOW|SAVEPOINT|RELEASE|ROLLBACK|SET\s+search_path)\b", re.IGNORECASE)
_SIDE_EFFECTS = re.compile(r"\b(setval|nextval|pg_catalog\.setval)\s*\(", re.IGNORECASE)
_MIGRATION_ROW = re.compile(r'^\s*INSERT\s+INTO\s+"?django_migrations"?\s', re.IGNORECASE)


class RecipeError(RuntimeError):
    """A recorded recipe did not rebuild the migrated schema exactly."""


@dataclass(frozen=True)
class Recipe:
    migrations_digest: str
    statements: str
    migrations: tuple[MigrationName, ...]
    tables: tuple[str, ...]
    structure_digest: str

    @classmethod
    def from_row(cls, row: SchemaRecipe) -> Recipe:
        return cls(
            migrations_digest=row.migrations_digest,
            statements=row.statements,
            migrations=tuple((app, name) for app, name in row.migrations),
            tables=tuple(row.tables),
            structure_digest=row.structure_digest,
        )


_recipes: dict[str, Recipe] = {}
# Part of a stored recipe's key: a change to how recipes are recorded or checked (the structure
# digest, say) must not meet recipes stored by the previous code.
RECIPE_FORMAT = 1


def recipe_key() -> str:
    return f"{expected_digest()}:{RECIPE_FORMAT}"


@contextmanager
def _in_schema(schema: str, *, include_public: bool = True) -> Iterator[None]:
    previous = connection.tenant  # type: ignore[attr-defined]
    connection.set_schema(schema, include_public=include_public)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        connection.set_tenant(previous)  # type: ignore[attr-defined]


def recipe_current(*, build: bool = True) -> Recipe | None:
    """The recipe for this process's migration state: from memory, from the database, or (if
    `build`) recorded now under a lock so that processes do not record it at once."""
    key = recipe_key()
    recipe = _recipes.get(key)
    if recipe is not None:
        return recipe
    row = SchemaRecipe.objects.filter(key=key).first()
    if row is None and not build:
        return None
    if row is None:
        with transaction.atomic():
            advisory_lock(_LOCK_NAME)
            row = SchemaRecipe.objects.filter(key=key).first()
            if row is None:
                recipe = recipe_record()
                if recipe.migrations_digest != expected_digest():
                    raise RecipeError("the migrate command did not apply every migration this code has")
                try:
                    with transaction.atomic():
                        row = SchemaRecipe.objects.create(
                            key=key,
                            migrations_digest=recipe.migrations_digest,
                            statements=recipe.statements,
                            migrations=[list(name) for name in recipe.migrations],
                            tables=list(recipe.tables),
                            structure_digest=recipe.structure_digest,
                        )
                except IntegrityError:
                    row = SchemaRecipe.objects.get(key=key)
    recipe = Recipe.from_row(row)
    _recipes[key] = recipe
    return recipe


def recipe_forget() -> None:
    """Drop the in-memory copy (tests; a process whose code changed is a new process)."""
    _recipes.clear()


class _StatementRecorder:
    """A Django execute wrapper that keeps every statement as the server received it."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        raw_cursor = context["cursor"].cursor
        bound = (
            [raw_cursor.mogrify(sql, each) for each in params]
            if many
            else [raw_cursor.mogrify(sql, params) if params is not None else sql]
        )
        for statement in bound:
            text = statement.decode() if isinstance(statement, bytes) else statement
            if _READ_ONLY.match(text) and not _SIDE_EFFECTS.search(text):
                continue
            if _MIGRATION_ROW.match(text):
                continue
            self.statements.append(text.strip())
        return execute(sql, params, many, context)


def _scratch_name() -> str:
    return SCRATCH_PREFIX + uuid.uuid4().hex[:16]


def _migrated_rows(schema: str) -> tuple[MigrationName, ...]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations ORDER BY id')  # noqa: S608
        return tuple((app, name) for app, name in cursor.fetchall())


def _migration_rows_sql(migrations: tuple[MigrationName, ...]) -> str:
    values = ", ".join(f"({_literal(app)}, {_literal(name)}, now())" for app, name in migrations)
    return f'INSERT INTO "django_migrations" ("app", "name", "applied") VALUES {values}'  # noqa: S608 - literals


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def recipe_record() -> Recipe:
    """Record a real migration run and check the replay against it (see the module doc).
    Everything it creates is rolled back; raises RecipeError if the replay differs."""
    migrated, replayed = _scratch_name(), _scratch_name()
    recorder = _StatementRecorder()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{migrated}"')
        # As django-tenants does: django_migrations must be created in the new schema, not found
        # in public, before the migrate command looks for it.
        with connection.execute_wrapper(recorder):
            with _in_schema(migrated, include_public=False):
                MigrationRecorder(connection).ensure_schema()
            with _in_schema(migrated):
                call_command(
                    get_tenant_base_migrate_command_class()(),
                    database=connection.alias,
                    interactive=False,
                    verbosity=0,
                    skip_checks=True,
                )
        migrations = _migrated_rows(migrated)
        statements = ";\n".join([*recorder.statements, _migration_rows_sql(migrations)])
        recipe_partial = Recipe(migrations_digest(migrations), statements, migrations, (), "")
        schema_create_from_recipe(replayed, recipe_partial)
        expected, actual = catalogue.schema_signature(migrated), catalogue.schema_signature(replayed)
        if expected != actual:
            differences = sorted(set(expected) ^ set(actual))[:20]
            raise RecipeError(f"the recorded recipe does not rebuild the migrated schema: {differences}")
        tables = tuple(name for kind, name, definition in actual if kind == "relation" and definition == "r")
        recipe = Recipe(
            migrations_digest=migrations_digest(migrations),
            statements=statements,
            migrations=migrations,
            tables=tables,
            structure_digest=catalogue.structure_digest(replayed, tables) or "",
        )
        transaction.set_rollback(True)
    logger.info("schema recipe recorded: %d statements, %d migrations", statements.count(";\n") + 1, len(migrations))
    return recipe


def schema_create_from_recipe(schema_name: str, recipe: Recipe) -> None:
    """CREATE SCHEMA and replay the recipe into it, in the caller's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema_name}"')
    with schema_context(schema_name), connection.cursor() as cursor:
        cursor.execute(recipe.statements)
