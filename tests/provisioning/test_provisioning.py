"""Practice schemas from the spare pool or the recipe (issue 14): identical to migrated ones,
never stale or broken, never shared by two signups, and undone with a failed signup.

Most tests here commit for real (transactional_db): a claim is a rename inside the signup's
transaction, and what a rollback or a concurrent signup does to it only shows across real
transactions and connections."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django_tenants.utils import schema_context

from accounts.services import account_signup
from practice.models import Patient
from provisioning import catalogue, recipe, services
from provisioning.models import SpareSchema
from tenants import services as tenant_services
from tenants.models import Membership, Practice, User
from tenants.services import public_tenant_ensure
from tests.factories import DEFAULT_PASSWORD


def schema_oid(name: str) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [name])
        row = cursor.fetchone()
    return row[0] if row else None


def spare_schemas_in_database() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'dentaltap\\_spare\\_%%'")
        return {name for (name,) in cursor.fetchall()}


def signup(slug: str) -> tuple[User, Practice]:
    with schema_context("public"):
        result = account_signup(
            email=f"owner@{slug}.example",
            password=DEFAULT_PASSWORD,
            full_name=f"Dr. {slug}",
            practice_name=f"Practice {slug}",
            practice_slug=slug,
        )
        return result.user, result.practice


@pytest.fixture
def committed_public(transactional_db: None) -> Iterator[None]:
    """A committing test's public tenant; its spare schemas are dropped afterwards (Django's
    flush empties the pool's table but knows nothing of schemas)."""
    public_tenant_ensure()
    yield
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        for name in spare_schemas_in_database():
            cursor.execute(f'DROP SCHEMA "{name}" CASCADE')


def pool_of(size: int) -> list[str]:
    services.spare_schemas_refill(target=size)
    spares = list(SpareSchema.objects.order_by("id").values_list("schema_name", flat=True))
    assert len(spares) == size
    return spares


def stock_schema(name: str) -> None:
    """A schema made the django-tenants way: CREATE SCHEMA, then every migration."""
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{name}"')
    call_command("migrate_schemas", tenant=True, schema_name=name, interactive=False, verbosity=0)


_migrated_signatures: list[object] = []


def migrated_signature() -> object:
    """The catalogue signature of a schema made by every migration, the django-tenants way. Made
    once per run (a stock schema costs every migration, seconds each time) and compared with
    every schema the tests make: the migrations do not change while the suite runs."""
    if not _migrated_signatures:
        stock_schema("practice_reference")
        _migrated_signatures.append(catalogue.schema_signature("practice_reference"))
    return _migrated_signatures[0]


# --------------------------------------------------------------------------- the recipe


@pytest.mark.django_db(transaction=True)
def test_a_schema_from_the_recipe_or_the_pool_is_identical_in_the_catalogue_to_a_migrated_one(
    committed_public: None,
) -> None:
    recipe_now = recipe.recipe_current()
    assert recipe_now is not None
    with transaction.atomic():
        recipe.schema_create_from_recipe("practice_by_recipe", recipe_now)
    (spare,) = pool_of(1)
    _, claimed = signup("by-pool")
    assert claimed.schema_name == "practice_by_pool" and not SpareSchema.objects.filter(schema_name=spare).exists()

    migrated = migrated_signature()
    kinds = {kind for kind, _, _ in migrated}
    assert {"relation", "column", "constraint", "index", "sequence", "row"} <= kinds
    assert ("relation", "practice_patient", "r") in migrated
    assert any(name.startswith("django_migrations.") and value == "practice.0001_initial"
               for kind, name, value in migrated if kind == "row")  # fmt: skip
    assert catalogue.schema_signature("practice_by_recipe") == migrated
    assert catalogue.schema_signature("practice_by_pool") == migrated

    # The comparison sees a difference as small as one index or one column default.
    with connection.cursor() as cursor:
        cursor.execute('CREATE INDEX extra_idx ON "practice_by_recipe".practice_patient (email)')
        cursor.execute("ALTER TABLE \"practice_by_pool\".practice_patient ALTER COLUMN phone SET DEFAULT ''")
    assert catalogue.schema_signature("practice_by_recipe") != migrated
    assert catalogue.schema_signature("practice_by_pool") != migrated


@pytest.mark.django_db(transaction=True)
def test_a_recipe_that_does_not_rebuild_the_schema_is_refused_and_signup_falls_back_to_migrations(
    committed_public: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recipe, "_recipes", {})  # this process has no recipe yet
    # A recorder that loses the indexes (as a filter bug would) must not make a recipe.
    losing_indexes = recipe._READ_ONLY.pattern.replace("(SELECT|", "(CREATE\\s+INDEX|SELECT|")
    monkeypatch.setattr(recipe, "_READ_ONLY", re.compile(losing_indexes, re.IGNORECASE))
    with pytest.raises(recipe.RecipeError):
        recipe.recipe_record()

    _, practice = signup("fallback")
    assert catalogue.schema_signature(practice.schema_name) == migrated_signature()
    assert not SpareSchema.objects.exists()  # nothing was built from the bad recipe


# --------------------------------------------------------------------------- claiming spares


@pytest.mark.django_db(transaction=True)
def test_signup_claims_a_spare_by_renaming_it_and_the_practice_is_usable(committed_public: None) -> None:
    first, second = pool_of(2)
    oid = schema_oid(first)
    owner, practice = signup("claimer")
    assert schema_oid(practice.schema_name) == oid  # the spare itself, renamed
    assert schema_oid(first) is None
    assert list(SpareSchema.objects.values_list("schema_name", flat=True)) == [second]
    with schema_context(practice.schema_name):
        Patient.objects.create(first_name="Ada", last_name="Lovelace")
        assert Patient.objects.count() == 1
    assert Membership.objects.filter(user=owner, practice=practice, role="owner").exists()


@pytest.mark.django_db(transaction=True)
def test_a_failed_signup_gives_its_spare_back(committed_public: None, monkeypatch: pytest.MonkeyPatch) -> None:
    (spare,) = pool_of(1)

    def broken_membership_create(**_: object) -> None:
        raise RuntimeError("the database went away after the claim")

    monkeypatch.setattr(tenant_services, "membership_create", broken_membership_create)
    with pytest.raises(RuntimeError):
        signup("halfway")
    assert list(SpareSchema.objects.values_list("schema_name", flat=True)) == [spare]
    assert spare in spare_schemas_in_database() and schema_oid("practice_halfway") is None
    assert not Practice.objects.filter(slug="halfway").exists()
    assert not User.objects.filter(email="owner@halfway.example").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("damage", ["stale", "broken", "missing"])
def test_a_stale_broken_or_missing_spare_is_discarded_never_handed_out(committed_public: None, damage: str) -> None:
    bad, good = pool_of(2)
    with connection.cursor() as cursor:
        if damage == "stale":  # a migration that never reached it
            cursor.execute(f"DELETE FROM \"{bad}\".django_migrations WHERE app = 'practice'")  # noqa: S608
        elif damage == "broken":  # its migrations say yes, its tables say no
            cursor.execute(f'ALTER TABLE "{bad}".practice_appointment DROP COLUMN reason')
        else:
            cursor.execute(f'DROP SCHEMA "{bad}" CASCADE')
    good_oid = schema_oid(good)

    _, practice = signup("careful")

    assert schema_oid(practice.schema_name) == good_oid
    assert bad not in spare_schemas_in_database()
    assert not SpareSchema.objects.exists()
    assert catalogue.schema_signature(practice.schema_name) == migrated_signature()


@pytest.mark.django_db(transaction=True)
def test_an_empty_pool_falls_back_to_the_recipe(committed_public: None) -> None:
    assert not SpareSchema.objects.exists()
    _, practice = signup("no-spares")
    with schema_context(practice.schema_name):
        assert Patient.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_signups_racing_for_the_last_spare_never_get_the_same_schema(
    committed_public: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first signup claims the last spare and then waits, holding the row lock, until the
    second has finished: the second must neither wait for it (SKIP LOCKED) nor take it."""
    (spare,) = pool_of(1)
    spare_oid = schema_oid(spare)
    claimed, second_done = threading.Event(), threading.Event()
    original_claim = services.spare_claim

    def claim_then_hold(**kwargs: Any) -> bool:
        got_it = original_claim(**kwargs)
        if got_it:
            claimed.set()
            assert second_done.wait(timeout=30), "the second signup never finished"
        return got_it

    monkeypatch.setattr(services, "spare_claim", claim_then_hold)
    results: dict[str, object] = {}

    def attempt(slug: str, start_after: threading.Event | None) -> None:
        try:
            if start_after is not None:
                assert start_after.wait(timeout=30)
            results[slug] = signup(slug)
        except Exception as error:  # noqa: BLE001 - reported by the assertions below
            results[slug] = error
        finally:
            if slug == "second":
                second_done.set()
            connections.close_all()

    threads = [
        threading.Thread(target=attempt, args=("first", None)),
        threading.Thread(target=attempt, args=("second", claimed)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert all(isinstance(value, tuple) for value in results.values()), results
    oids = {schema_oid("practice_first"), schema_oid("practice_second")}
    assert None not in oids and len(oids) == 2
    assert schema_oid("practice_first") == spare_oid  # the holder kept it; the other built its own
    assert not SpareSchema.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_many_concurrent_signups_share_a_small_pool_without_sharing_a_schema(committed_public: None) -> None:
    spares = pool_of(2)
    spare_oids = {schema_oid(name) for name in spares}
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def attempt(number: int) -> None:
        try:
            barrier.wait(timeout=30)
            signup(f"crowd-{number}")
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    oids = [schema_oid(f"practice_crowd_{number}") for number in range(4)]
    assert None not in oids and len(set(oids)) == 4
    assert len(spare_oids & set(oids)) == 2  # both spares used, each once
    assert Practice.objects.exclude(schema_name="public").count() == 4


# --------------------------------------------------------------------------- the refill


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_refills_the_pool_after_a_signup_commits(
    committed_public: None, celery_worker: object, settings: Any
) -> None:
    settings.PROVISIONING_SPARE_SCHEMAS = 2
    pool_of(1)
    signup("refilled")

    deadline = time.monotonic() + 30
    while SpareSchema.objects.count() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    spares = set(SpareSchema.objects.values_list("schema_name", flat=True))
    assert len(spares) == 2, "the worker did not refill the pool"
    assert spares <= spare_schemas_in_database()


@pytest.mark.django_db(transaction=True)
def test_the_refill_drops_orphans_and_stale_spares_and_tops_the_pool_up(committed_public: None) -> None:
    stale, _ = pool_of(2)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM \"{stale}\".django_migrations WHERE app = 'practice'")  # noqa: S608
        cursor.execute('CREATE SCHEMA "dentaltap_spare_orphan"')  # a schema whose row was lost

    report = services.spare_schemas_refill(target=3)

    assert (report.discarded, report.orphans_dropped, report.created, report.spares) == (1, 1, 2, 3)
    names = set(SpareSchema.objects.values_list("schema_name", flat=True))
    assert stale not in names and len(names) == 3
    assert spare_schemas_in_database() == names
    # A second refill has nothing to do.
    assert services.spare_schemas_refill(target=3).created == 0


def test_the_refill_is_on_beats_schedule(settings: Any) -> None:
    entries = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"].startswith("provisioning.")]
    assert entries == [{"task": "provisioning.tasks.spare_schemas_refill", "schedule": 60.0}]


# --------------------------------------------------------------------------- switched off


@pytest.mark.django_db(transaction=True)
def test_with_fast_schemas_off_creation_is_django_tenants_stock_one(
    committed_public: None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import django_tenants.models

    settings.PROVISIONING_FAST_SCHEMAS = False
    called: list[str] = []

    def spy(name: object, *args: object, **kwargs: object) -> object:
        called.append(str(name))
        return call_command(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(django_tenants.models, "call_command", spy)
    _, practice = signup("stock")
    assert called == ["migrate_schemas"]
    with schema_context(practice.schema_name):
        assert Patient.objects.count() == 0


# --------------------------------------------------------------------------- seeding


@pytest.mark.django_db(transaction=True)
def test_practices_seed_makes_usable_practices_with_data_in_parallel(committed_public: None) -> None:
    import io

    from practice.models import Appointment

    out = io.StringIO()
    call_command(
        "practices_seed", "--count=5", "--patients=7", "--appointments=11", "--workers=2", stdout=out,
        stderr=io.StringIO(),
    )  # fmt: skip
    connection.set_schema_to_public()
    assert "seeded 5 practices" in out.getvalue()
    practices = list(Practice.objects.filter(slug__startswith="seed-").order_by("slug"))
    assert [p.slug for p in practices] == [f"seed-{n:05d}" for n in range(5)]
    assert Membership.objects.filter(practice__in=practices).count() == 15
    assert Membership.objects.filter(practice__in=practices, role="owner").count() == 5
    recipe_now = recipe.recipe_current()
    assert recipe_now is not None
    for practice in practices:
        assert catalogue.structure_digest(practice.schema_name, recipe_now.tables) == recipe_now.structure_digest
        with schema_context(practice.schema_name):
            assert Patient.objects.count() == 7 and Appointment.objects.count() == 11
            assert Appointment.objects.filter(patient__isnull=False).count() == 11
    # Seeding again continues the numbering.
    call_command("practices_seed", "--count=2", "--workers=1", stdout=io.StringIO(), stderr=io.StringIO())
    connection.set_schema_to_public()
    assert Practice.objects.filter(slug__startswith="seed-").count() == 7


# --------------------------------------------------------------------------- scale


GROWING_TABLES = ("tenants_practice", "tenants_user", "tenants_domain", "tenants_membership", "billing_practiceaccount")


def unindexed_scans(plan: dict[str, Any]) -> list[str]:
    """Scan nodes on a growing table that no index condition narrows (a full index scan with a
    filter is a scan too: that is what the planner picks when sequential scans are off)."""
    found = []

    def bitmap_without_condition(node: dict[str, Any]) -> bool:
        if node["Node Type"] == "Bitmap Index Scan":
            return "Index Cond" not in node
        return any(bitmap_without_condition(child) for child in node.get("Plans", []))

    if plan.get("Relation Name") in GROWING_TABLES and (
        plan["Node Type"] == "Seq Scan"
        or (plan["Node Type"] in ("Index Scan", "Index Only Scan") and "Index Cond" not in plan)
        or (plan["Node Type"] == "Bitmap Heap Scan" and bitmap_without_condition(plan))
    ):
        found.append(f"{plan['Node Type']} on {plan['Relation Name']}")
    for child in plan.get("Plans", []):
        found += unindexed_scans(child)
    return found


def tables_grown(count: int) -> None:
    """`count` more practices in the tables that grow with them (practice, domain, owner and
    membership, billing account: rows only, no schemas), as a database in use holds."""
    from billing.models import Plan, PracticeAccount
    from tenants.models import Domain

    practices = Practice.objects.bulk_create(
        Practice(schema_name=f"practice_grown_{n}", slug=f"grown-{n}", name=f"Grown {n}") for n in range(count)
    )
    users = User.objects.bulk_create(User(email=f"owner@grown-{n}.example", full_name=f"Dr. {n}") for n in range(count))
    Domain.objects.bulk_create(
        Domain(domain=f"{practice.slug}.dentaltap.localhost", tenant=practice, is_primary=True)
        for practice in practices
    )
    Membership.objects.bulk_create(
        Membership(user=user, practice=practice, role="owner", joined_via="created_practice")
        for user, practice in zip(users, practices, strict=True)
    )
    plan = Plan.objects.get(code="freemium")
    PracticeAccount.objects.bulk_create(PracticeAccount(practice=practice, plan=plan) for practice in practices)


@pytest.mark.django_db(transaction=True)
def test_a_signup_finds_rows_in_the_tables_that_grow_with_practices_through_indexes(committed_public: None) -> None:
    """No statement of a signup scans a table that grows with every practice (django-tenants'
    case-insensitive schema-name check did: UPPER(schema_name), no index). The signup meets
    tables of a thousand practices, and each of its statements is explained with sequential
    scans off, so the planner uses any index it can, on statistics made just before: what
    earlier tests left behind (the pages of deleted rows, an autovacuum's estimate from another
    moment) does not decide the plans. (On tables of one or two rows, exact statistics make a
    full index scan as cheap as any: the plans that matter are those of grown tables.)"""
    import json

    from django.test.utils import CaptureQueriesContext

    tables_grown(1000)
    pool_of(1)
    with CaptureQueriesContext(connection) as captured:
        signup("indexed")
    statements = [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE"))
        and any(f'"{table}"' in query["sql"] for table in GROWING_TABLES)
    ]
    assert len(statements) >= 5
    scans = []
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(GROWING_TABLES))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for sql in statements:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            scans += [(scan, sql[:120]) for scan in unindexed_scans(plan[0]["Plan"])]
        transaction.set_rollback(True)
    assert scans == []


@pytest.mark.django_db(transaction=True)
def test_no_schema_is_made_when_the_tenant_model_says_not_to(committed_public: None, monkeypatch: Any) -> None:
    (spare,) = pool_of(1)
    monkeypatch.setattr(Practice, "auto_create_schema", False)
    _, practice = signup("rows-only")
    assert schema_oid(practice.schema_name) is None
    assert list(SpareSchema.objects.values_list("schema_name", flat=True)) == [spare]


@pytest.mark.django_db(transaction=True)
def test_a_leftover_schema_of_the_same_name_is_never_handed_to_a_new_practice(committed_public: None) -> None:
    """A practice deleted without its schema (auto_drop_schema is off) leaves its data behind:
    a signup for the same address gets a clear answer, and the leftover stays as it was."""
    from dentaltap.errors import ApplicationError

    pool_of(1)
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "practice_leftover"')
        cursor.execute('CREATE TABLE "practice_leftover".practice_patient (first_name text)')
        cursor.execute("INSERT INTO \"practice_leftover\".practice_patient VALUES ('Old data')")
    with pytest.raises(ApplicationError) as refused:
        signup("leftover")
    assert "practice_slug" in refused.value.fields
    assert not Practice.objects.filter(slug="leftover").exists()
    assert not User.objects.filter(email="owner@leftover.example").exists()
    assert SpareSchema.objects.count() == 1
    with connection.cursor() as cursor:
        cursor.execute('SELECT first_name FROM "practice_leftover".practice_patient')
        assert cursor.fetchall() == [("Old data",)]
