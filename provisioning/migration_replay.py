"""A real migration, run once by the migrate command and replayed in the other schemas behind
by the same migrations.

Schemas with the same applied migrations and the same tables get the same SQL from the migrate
command (Django's schema editor never reads data to write DDL): so it runs in the first schema
of such a group while every statement is recorded (as recipe.py records a whole history), and
the others get the recording in one round trip each instead of a graph load, two project-state
renders and the post_migrate signals, which are most of a second per schema.

Only when it is safe:
- no RunPython among the tenant apps' missing migrations (its SQL depends on each schema's
  data), and every one of them atomic (no CONCURRENTLY outside a transaction);
- each schema's tables are checked before (the same as the first schema's were) and after (the
  same as the first schema's became) its replay, in its transaction: a schema that differs is
  rolled back and left to the migrate command, as is any schema whose replay fails.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython, SeparateDatabaseAndState
from django.db.migrations.operations.base import Operation

from dentaltap.progress import Progress
from provisioning import catalogue
from provisioning.migration_state import MigrationName
from provisioning.recipe import _StatementRecorder
from provisioning.record_only import _is_tenant_app, _literal, _plan_order

logger = logging.getLogger(__name__)

# Below this many schemas in a group the migrate command in each is as quick.
MIN_GROUP = 3
# Schemas replayed per task handed to a worker process.
BATCH = 20


@functools.cache
def _disk_migrations() -> dict[MigrationName, object]:
    return dict(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def _database_operations(operations: Iterable[Operation]) -> Iterable[Operation]:
    for operation in operations:
        if isinstance(operation, SeparateDatabaseAndState):
            yield from _database_operations(operation.database_operations)
        else:
            yield operation


def replayable(missing: Iterable[MigrationName]) -> bool:
    """Whether these migrations' SQL is the same in every schema at the same state."""
    for node in missing:
        if not _is_tenant_app(node[0]):
            continue
        migration = _disk_migrations().get(node)
        if migration is None or not migration.atomic:  # type: ignore[attr-defined]
            return False
        if any(isinstance(operation, RunPython) for operation in _database_operations(migration.operations)):  # type: ignore[attr-defined]
            return False
    return True


def _tables(schema: str) -> list[str]:
    return [
        name
        for kind, name, definition in catalogue.schema_signature(schema)
        if kind == "relation" and definition == "r"
    ]


@dataclass
class Replay:
    """A migration recorded in `first`, with the checks every other schema must pass."""

    first: str
    statements: str
    tables: list[str]
    before: str
    after: str


@dataclass
class GroupResult:
    migrated: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # for the migrate command


def replay_record(first: str, missing: Iterable[MigrationName]) -> Replay | None:
    """Migrate `first` with the migrate command while recording its SQL; None if it failed
    (it is then left to the migrate command like any schema)."""
    from provisioning.runner import schema_migrate  # noqa: PLC0415 - the runner calls this module

    tables_before = _tables(first)
    before = catalogue.structure_digest(first, tables_before)
    recorder = _StatementRecorder()
    with connection.execute_wrapper(recorder):
        error = schema_migrate(first)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    if error is not None or before is None:
        return None
    tables = sorted(set(tables_before) | set(_tables(first)))
    order = _plan_order()
    rows = ", ".join(
        f"({_literal(app)}, {_literal(name)}, now())" for app, name in sorted(missing, key=lambda n: order.get(n, 0))
    )
    statements = ";\n".join([*recorder.statements, f"INSERT INTO django_migrations (app, name, applied) VALUES {rows}"])  # noqa: S608
    after = catalogue.structure_digest(first, tables) or ""
    return Replay(first, statements, tables, before=before, after=after)


def replay_into(schema: str, replay: Replay, tables_before: list[str]) -> bool:
    """Replay into one schema, checked before and after, in its own transaction."""
    try:
        with transaction.atomic():
            if catalogue.structure_digest(schema, tables_before) != replay.before:
                return False
            connection.set_schema(schema)  # type: ignore[attr-defined]
            try:
                with connection.cursor() as cursor:
                    cursor.execute(replay.statements)
            finally:
                connection.set_schema_to_public()  # type: ignore[attr-defined]
            if catalogue.structure_digest(schema, replay.tables) != replay.after:
                transaction.set_rollback(True)
                return False
    except Exception:  # noqa: BLE001 - the migrate command takes it and reports its own error
        logger.warning("replaying %s's migration into %s failed; migrating it instead", replay.first, schema)
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        return False
    return True


_shared: dict[str, object] = {}


def _replay_batch(schemas: list[str]) -> list[tuple[str, bool]]:
    replay: Replay = _shared["replay"]  # type: ignore[assignment]
    tables_before: list[str] = _shared["tables_before"]  # type: ignore[assignment]
    return [(schema, replay_into(schema, replay, tables_before)) for schema in schemas]


def group_migrate(
    schemas: list[str], missing: frozenset[MigrationName], *, workers: int, progress: Progress
) -> GroupResult:
    """Migrate schemas behind by the same migrations: those with the same tables (the largest
    such set) by recording the migrate command in one and replaying it in the others. What is
    not migrated that way is returned in `left`, for the migrate command."""
    result = GroupResult()
    tables_before = _tables(schemas[0])
    by_structure: dict[str | None, list[str]] = {}
    for schema in schemas:
        by_structure.setdefault(catalogue.structure_digest(schema, tables_before), []).append(schema)
    same = max(by_structure.values(), key=len)
    chosen = set(same)
    result.left = [schema for schema in schemas if schema not in chosen]
    if len(same) < MIN_GROUP:
        result.left = schemas
        return result
    first, rest = same[0], same[1:]
    replay = replay_record(first, missing)
    if replay is None:
        result.left = schemas
        return result
    result.migrated.append(first)
    progress.advance()
    batches = [rest[start : start + BATCH] for start in range(0, len(rest), BATCH)]
    _shared.update(replay=replay, tables_before=tables_before)
    if workers <= 1 or len(batches) <= 1:
        outcomes = (outcome for batch in batches for outcome in _replay_batch(batch))
        for schema, done in outcomes:
            (result.migrated if done else result.left).append(schema)
            if done:
                progress.advance()
        return result
    connections.close_all()
    with multiprocessing.get_context("fork").Pool(processes=workers) as pool:
        for outcome in pool.imap_unordered(_replay_batch, batches):
            for schema, done in outcome:
                (result.migrated if done else result.left).append(schema)
                if done:
                    progress.advance()
    return result
