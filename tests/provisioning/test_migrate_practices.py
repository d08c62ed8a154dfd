"""`manage.py migrate_practices` (issue 14): only the schemas that are behind are migrated, in
worker processes; a failing schema is reported and does not stop the others; running it again
finishes the rest; with nothing to do it loads the migration graph once and runs no executor.

A schema is put behind for real: `practice.0001_initial` (a leaf of the graph) is taken back, its
row deleted and its tables dropped, so migrating it runs real DDL. With the tables left in place
the same migration fails ("already exists"), which is the failing schema. These tests commit
(transactional_db): the worker processes have their own connections."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from provisioning import migration_state, services
from provisioning.models import SpareSchema
from tenants.models import Practice
from tests.provisioning.test_provisioning import committed_public, signup, spare_schemas_in_database  # noqa: F401 - fixture

TAKEN_BACK = ("practice", "0001_initial")


def take_back_migration(schema: str, *, so_that_it_fails: bool = False) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{schema}".django_migrations WHERE app = %s AND name = %s', list(TAKEN_BACK))  # noqa: S608
        if not so_that_it_fails:
            cursor.execute(f'DROP TABLE "{schema}".practice_appointment, "{schema}".practice_patient')


def has_migration(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT 1 FROM "{schema}".django_migrations WHERE app = %s AND name = %s', list(TAKEN_BACK))  # noqa: S608
        return cursor.fetchone() is not None


def has_tables(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f'"{schema}".practice_appointment'])
        return bool(cursor.fetchone()[0])


def migrate_practices(*arguments: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("migrate_practices", *arguments, stdout=out, stderr=err)
    finally:
        connection.set_schema_to_public()
    return out.getvalue(), err.getvalue()


@pytest.fixture
def three_practices(committed_public: None) -> Iterator[list[str]]:  # noqa: F811 - the fixture
    yield [signup(slug)[1].schema_name for slug in ("one", "two", "three")]


@pytest.mark.django_db(transaction=True)
def test_only_the_schema_that_is_behind_is_migrated(three_practices: list[str]) -> None:
    _, two, _ = three_practices
    take_back_migration(two)
    assert migration_state.schemas_behind(three_practices) == {two: "1 migration(s) to apply"}

    out, err = migrate_practices("--workers=2", "--no-refill")

    assert "3 schemas: 2 already up to date, 1 migrated, 0 failed" in out
    assert "1/1" in err and "ETA" in err  # the progress line
    assert has_migration(two) and has_tables(two)
    assert migration_state.schemas_behind(three_practices) == {}


@pytest.mark.django_db(transaction=True)
def test_a_failing_schema_is_reported_the_others_are_migrated_and_a_rerun_finishes(
    committed_public: None,  # noqa: F811 - the fixture
) -> None:
    schemas = [signup(slug)[1].schema_name for slug in ("good-a", "bad", "good-b", "fine")]
    good_a, bad, good_b, _fine = schemas
    take_back_migration(good_a)
    take_back_migration(bad, so_that_it_fails=True)
    take_back_migration(good_b)

    with pytest.raises(CommandError, match="1 schema"):
        migrate_practices("--workers=2", "--no-refill")
    assert has_migration(good_a) and has_migration(good_b)
    assert not has_migration(bad)
    assert migration_state.schemas_behind(schemas) == {bad: "1 migration(s) to apply"}

    # The failure is fixed (the stray tables go); the next run finishes it and touches nothing else.
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE "{bad}".practice_appointment, "{bad}".practice_patient')
    out, _ = migrate_practices("--workers=2", "--no-refill")
    assert "4 schemas: 3 already up to date, 1 migrated, 0 failed" in out
    assert migration_state.schemas_behind(schemas) == {}


@pytest.mark.django_db(transaction=True)
def test_the_failure_summary_names_the_schema_and_the_error(three_practices: list[str]) -> None:
    _, two, _ = three_practices
    take_back_migration(two, so_that_it_fails=True)
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("migrate_practices", "--workers=1", "--no-refill", stdout=io.StringIO(), stderr=err)
    connection.set_schema_to_public()
    assert f"FAILED {two}: ProgrammingError" in err.getvalue()
    assert "already exists" in err.getvalue()


@pytest.mark.django_db(transaction=True)
def test_spare_schemas_are_migrated_with_the_practices(committed_public: None) -> None:  # noqa: F811
    services.spare_schemas_refill(target=2)
    spare = SpareSchema.objects.order_by("id").first()
    assert spare is not None
    take_back_migration(spare.schema_name)
    out, _ = migrate_practices("--workers=1")
    assert "1 migrated" in out
    assert has_migration(spare.schema_name) and has_tables(spare.schema_name)
    assert SpareSchema.objects.filter(pk=spare.pk).exists()  # migrated, not thrown away


@pytest.mark.django_db(transaction=True)
def test_with_nothing_to_do_it_loads_the_graph_once_and_runs_no_executor(
    three_practices: list[str], settings: Any
) -> None:
    settings.PROVISIONING_SPARE_SCHEMAS = 2
    services.spare_schemas_refill()
    migration_state.expected_migrations.cache_clear()
    migration_state.expected_digest.cache_clear()
    real_build_graph, real_executor_init = MigrationLoader.build_graph, MigrationExecutor.__init__
    graph_loads: list[object] = []
    executors: list[object] = []

    def counted_build_graph(self: MigrationLoader) -> None:
        graph_loads.append(self)
        real_build_graph(self)

    def counted_executor_init(self: MigrationExecutor, *args: Any, **kwargs: Any) -> None:
        executors.append(self)
        real_executor_init(self, *args, **kwargs)

    with (
        mock.patch.object(MigrationLoader, "build_graph", counted_build_graph),
        mock.patch.object(MigrationExecutor, "__init__", counted_executor_init),
    ):
        out, _ = migrate_practices("--workers=2")

    assert "5 schemas: 5 already up to date, 0 migrated, 0 failed" in out
    assert len(graph_loads) == 1  # this process's expected migrations, from disk
    assert executors == []
    assert Practice.objects.exclude(schema_name="public").count() == 3
    assert len(spare_schemas_in_database()) == 2


@pytest.mark.django_db(transaction=True)
def test_a_schema_gone_meanwhile_is_not_a_failure_and_new_ones_are_picked_up(three_practices: list[str]) -> None:
    """A spare claimed (renamed) by a signup while a deploy runs vanishes from under it; the
    practice it became, and one created meanwhile by older code, are found by the next pass."""
    from provisioning import runner

    one, two, three = three_practices
    take_back_migration(two)
    listings = iter([[one, two, "dentaltap_spare_claimed_meanwhile"], [one, two, three]])
    take_back_migration(three)  # behind, but only listed from the second pass on

    run = runner.schemas_migrate(lambda: next(listings, [one, two, three]), workers=1)
    connection.set_schema_to_public()

    assert run.failed == {}
    assert run.vanished == ["dentaltap_spare_claimed_meanwhile"]
    assert sorted(run.migrated) == sorted([two, three])
    assert migration_state.schemas_behind(three_practices) == {}


def without_content_type_ids(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Content types compared as a set: nothing in a practice schema refers to their ids."""
    kept = [row for row in rows if not row[1].startswith("django_content_type.")]
    kept += [
        ("row", "django_content_type", value) for kind, name, value in rows if name.startswith("django_content_type.")
    ]
    return sorted(kept)


@pytest.mark.django_db(transaction=True)
def test_shared_app_migrations_are_recorded_without_the_migrate_command_as_it_would_leave_them(
    three_practices: list[str],
) -> None:
    """billing's latest migration (a shared app's leaf) missing, and a content type of a model
    "new" since: the schema gets the row and the content type, what the migrate command leaves."""
    from provisioning import catalogue, runner

    (billing_leaf,) = [node for node in MigrationLoader(None).graph.leaf_nodes() if node[0] == "billing"]
    _, two, three = three_practices
    for schema in (two, three):
        with connection.cursor() as cursor:
            cursor.execute(
                f'DELETE FROM "{schema}".django_migrations WHERE app = %s AND name = %s',  # noqa: S608
                list(billing_leaf),
            )
            cursor.execute(
                f'DELETE FROM "{schema}".django_content_type WHERE app_label = %s AND model = %s',  # noqa: S608
                ["billing", "paymentreversal"],
            )
    assert runner.schema_migrate(three) is None  # the reference: the real migrate command
    connection.set_schema_to_public()

    executors: list[object] = []
    real_executor_init = MigrationExecutor.__init__

    def counted_executor_init(self: MigrationExecutor, *args: Any, **kwargs: Any) -> None:
        executors.append(self)
        real_executor_init(self, *args, **kwargs)

    with mock.patch.object(MigrationExecutor, "__init__", counted_executor_init):
        out, _ = migrate_practices("--workers=1", "--no-refill")

    assert "1 recorded (shared-app migrations only)" in out and "0 migrated" in out
    assert executors == []
    assert migration_state.schemas_behind(three_practices) == {}
    assert without_content_type_ids(catalogue.schema_signature(two)) == without_content_type_ids(
        catalogue.schema_signature(three)
    )


def comparable(rows: list[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """A signature without row ids and sequence positions (they follow each schema's history)."""
    kept = set()
    for kind, name, value in rows:
        if kind == "row":
            kept.add((kind, name.split(".")[0], value))
        elif kind == "sequence":
            kept.add((kind, name, value.rsplit(" last ", 1)[0]))
        else:
            kept.add((kind, name, value))
    return kept


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("workers", [1, 2])
def test_a_real_migration_runs_once_and_is_replayed_in_the_schemas_at_the_same_state(
    committed_public: None,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
    workers: int,
) -> None:
    from provisioning import catalogue, migration_replay

    monkeypatch.setattr(migration_replay, "BATCH", 1)  # several tasks, so the workers share them
    schemas = [signup(f"state-{number}")[1].schema_name for number in range(6)]
    untouched, odd, *same_state = schemas
    for schema in [odd, *same_state]:
        take_back_migration(schema)
    with connection.cursor() as cursor:  # behind by the same migration, but not the same tables
        cursor.execute(f'ALTER TABLE "{odd}".django_content_type ADD COLUMN extra integer')
    assert migration_replay.replayable({TAKEN_BACK})
    assert not migration_replay.replayable({("contenttypes", "0002_remove_content_type_name")})  # RunPython

    executors: list[object] = []
    real_executor_init = MigrationExecutor.__init__

    def counted_executor_init(self: MigrationExecutor, *args: Any, **kwargs: Any) -> None:
        executors.append(self)
        real_executor_init(self, *args, **kwargs)

    with mock.patch.object(MigrationExecutor, "__init__", counted_executor_init):
        out, err = migrate_practices(f"--workers={workers}", "--no-refill")

    assert "6 schemas: 1 already up to date, 5 migrated (3 of them by replay), 0 failed" in out, out
    assert "5/5" in err
    if workers == 1:  # the migrate command ran in this process: once to record, once for the odd one
        assert len(executors) == 2
    assert migration_state.schemas_behind(schemas) == {}
    reference = comparable(catalogue.schema_signature(untouched))
    for schema in same_state:
        assert comparable(catalogue.schema_signature(schema)) == reference
    assert ("column", "django_content_type.0005.extra", "integer collation default") not in reference
    assert has_tables(odd) and has_migration(odd)
