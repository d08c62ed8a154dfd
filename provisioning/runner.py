"""Migrate the practice schemas that need it, in parallel, and say what happened.

django-tenants' `migrate_schemas` loads the migration graph and runs the migrate command for
every schema, even when there is nothing to do: minutes for a thousand practices, hours for ten
thousand. Here one catalogue query finds the schemas that are behind (migration_state), and
only those are migrated, by worker processes (forked, so they share this process's settings),
each schema on its own: one failing schema is recorded and the others go on. Running it again
picks up whatever is still behind, the failed ones included.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from django.db import connection, connections
from django_tenants.migration_executors.base import run_migrations
from django_tenants.utils import get_tenant_base_migrate_command_class, schema_exists

from dentaltap.progress import Progress
from provisioning import migration_replay
from provisioning.migration_state import MigrationName, schemas_missing
from provisioning.record_only import only_records, schemas_record

# A schema created while a run is under way (by code that did not know the new migration yet)
# is found by the check after the run; this many extra passes catch such stragglers.
EXTRA_PASSES = 2


@dataclass
class MigrationRun:
    considered: int = 0
    behind: dict[str, str] = field(default_factory=dict)
    migrated: list[str] = field(default_factory=list)
    # Of those, migrated by replaying what the migrate command did in another schema at the same
    # state (migration_replay).
    replayed: list[str] = field(default_factory=list)
    # Behind by shared-app migrations only: recorded without the migrate command (record_only).
    recorded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    # Gone while the run was under way: a spare claimed (renamed) by a signup, a practice
    # deleted. Not failures; a claimed spare is checked again under its new name.
    vanished: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def up_to_date(self) -> int:
        return self.considered - len(self.behind)


def _migrate_options() -> dict[str, object]:
    command = get_tenant_base_migrate_command_class()()
    options = vars(command.create_parser("manage.py", "migrate").parse_args([]))
    options.update(verbosity=0, interactive=False, skip_checks=True, database=connection.alias)
    return options


def schema_migrate(schema_name: str) -> str | None:
    """Run the migrate command in one schema; the error as text, or None when it worked."""
    try:
        run_migrations((), _migrate_options(), "migrate_practices", schema_name, allow_atomic=False)
    except Exception as error:  # noqa: BLE001 - one schema's failure is reported, not raised
        connection.close()  # whatever state the failure left, the next schema starts clean
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        return f"{type(error).__name__}: {error}".strip()
    return None


def _worker(schema_name: str) -> tuple[str, str | None]:
    return schema_name, schema_migrate(schema_name)


def schemas_migrate(
    schemas: Sequence[str] | Callable[[], Sequence[str]],
    *,
    workers: int,
    stream: TextIO | None = None,
    label: str = "migrating",
) -> MigrationRun:
    """Migrate those of `schemas` that are behind; `workers` processes at once. Given a function
    instead of a list, it is asked again after each pass, so schemas that appeared meanwhile (a
    practice created by code that did not know the new migration, a spare renamed by a claim)
    are looked at too."""
    listing = schemas if callable(schemas) else (lambda: schemas)
    started = time.monotonic()
    current = listing()
    run = MigrationRun(considered=len(current))
    pending = schemas_missing(current)
    passes = 0
    while pending and passes <= EXTRA_PASSES:
        run.behind.update({name: _reason(missing) for name, missing in pending.items()})
        recordable = {name: set(missing) for name, missing in pending.items() if missing and only_records(missing)}
        recorded = set(schemas_record(recordable)) if recordable else set()
        run.recorded += sorted(recorded)
        to_migrate = {name: missing for name, missing in pending.items() if name not in recorded}
        if to_migrate:
            progress = Progress(len(to_migrate), label, stream=stream)
            left = _migrate_by_replay(to_migrate, run, workers=workers, progress=progress)
            _migrate_in_workers(left, run, workers=workers, progress=progress)
            progress.finish()
        passes += 1
        current = listing()
        run.considered = max(run.considered, len(current))
        done = set(run.failed) | set(run.vanished)
        pending = {name: missing for name, missing in schemas_missing(current).items() if name not in done}
    run.seconds = time.monotonic() - started
    return run


def _reason(missing: frozenset[tuple[str, str]] | None) -> str:
    return "no migrations recorded" if missing is None else f"{len(missing)} migration(s) to apply"


def _migrate_by_replay(
    pending: dict[str, frozenset[MigrationName] | None], run: MigrationRun, *, workers: int, progress: Progress
) -> list[str]:
    """Groups of schemas behind by the same migrations, when replayable, are migrated by replay;
    returns the schemas left for the migrate command."""
    groups: dict[frozenset[MigrationName], list[str]] = {}
    left: list[str] = []
    for name in sorted(pending):
        missing = pending[name]
        if missing is None:
            left.append(name)
        else:
            groups.setdefault(missing, []).append(name)
    for missing, schemas in groups.items():
        if len(schemas) < migration_replay.MIN_GROUP or not migration_replay.replayable(missing):
            left += schemas
            continue
        result = migration_replay.group_migrate(schemas, missing, workers=workers, progress=progress)
        run.migrated += result.migrated
        run.replayed += result.migrated[1:] if result.migrated else []
        left += result.left
    return sorted(left)


def _migrate_in_workers(schemas: list[str], run: MigrationRun, *, workers: int, progress: Progress) -> None:
    if not schemas:
        return
    workers = max(1, min(workers, len(schemas)))
    if workers == 1:
        for schema in schemas:
            _record(run, progress, schema, schema_migrate(schema))
    else:
        connections.close_all()  # children must not share this process's connection
        context = multiprocessing.get_context("fork")
        with context.Pool(processes=workers) as pool:
            for schema, error in pool.imap_unordered(_worker, schemas, chunksize=1):
                _record(run, progress, schema, error)


def _record(run: MigrationRun, progress: Progress, schema: str, error: str | None) -> None:
    if error is None:
        run.migrated.append(schema)
        run.failed.pop(schema, None)
    elif not schema_exists(schema):
        run.vanished.append(schema)
        error = None
    else:
        run.failed[schema] = error
    progress.advance(failed=error is not None)
