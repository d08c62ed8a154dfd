"""Give a new practice its schema, fast: a spare from the pool, else the recipe, else migrations.

`practice_schema_provide` is the one function the rest of the project calls. It runs inside the
caller's transaction (practice_create's), so a signup that fails afterwards un-claims its spare
or un-creates its schema with everything else: PostgreSQL DDL is transactional.

Claiming a spare: `SELECT ... FOR UPDATE SKIP LOCKED` takes a row no other signup holds (two
signups racing for the last spare never get the same one: the second skips it and builds its
own), the spare is checked (its migrations against this process's code, its tables' structure
against the recipe's), then `ALTER SCHEMA ... RENAME` makes it the practice's and the row goes.
A spare that is stale or broken is dropped, never handed out. After the signup commits, a
Celery task refills the pool.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import get_tenant_base_schema, get_tenant_model, schema_exists

from dentaltap.locks import advisory_lock_try
from provisioning import catalogue
from provisioning.migration_state import (
    DIGEST_EXPRESSION,
    applied_migrations,
    expected_digest,
    expected_migrations,
    is_current,
)
from provisioning.models import SpareSchema
from provisioning.recipe import (
    Recipe,
    RecipeError,
    recipe_current,
    schema_create_from_recipe,
)

logger = logging.getLogger(__name__)

SPARE_PREFIX = "dentaltap_spare_"
# A deleted practice keeps its row as a tombstone (the ledger and rewards still name it), with its
# schema dropped and its schema name set to this prefix and its id (offboarding.services): nothing
# may migrate or enter such a schema. Practice schemas start with "practice_", so none collide.
DELETED_SCHEMA_PREFIX = "deleted_"
_REFILL_LOCK = "dentaltap-provisioning-refill"
# A claim looks at no more than this many bad spares before it builds a schema itself: a pool
# gone stale all at once (code deployed before migrate_practices ran) must not slow a signup down.
MAX_DISCARDS_PER_CLAIM = 2

Provided = Literal["spare", "recipe"]


@dataclass(frozen=True)
class RefillReport:
    created: int
    discarded: int
    orphans_dropped: int
    spares: int


def fast_schemas_enabled() -> bool:
    return bool(getattr(settings, "PROVISIONING_FAST_SCHEMAS", True)) and not get_tenant_base_schema()


def practice_schema_provide(*, schema_name: str) -> Provided | None:
    """Make `schema_name` exist, fully migrated, in the current transaction, and say how.

    None: fast schemas are switched off (PROVISIONING_FAST_SCHEMAS, or django-tenants' clone
    mode is configured); the caller's Practice.save() then creates the schema the stock way. Also
    None when the tenant model's `auto_create_schema` is off (no schema wanted at all)."""
    if not fast_schemas_enabled() or not get_tenant_model().auto_create_schema:
        return None
    if not connection.in_atomic_block:
        raise RuntimeError("practice_schema_provide must run inside the practice's transaction")
    if schema_exists(schema_name):
        raise RuntimeError(f"schema {schema_name} already exists")
    try:
        recipe = recipe_current()
    except (RecipeError, DatabaseError):
        logger.exception("no schema recipe; creating %s by migrations", schema_name)
        return None
    if recipe is None:
        return None
    if spare_claim(schema_name=schema_name, recipe=recipe):
        transaction.on_commit(spare_schemas_refill_later, robust=True)
        return "spare"
    schema_create_from_recipe(schema_name, recipe)
    transaction.on_commit(spare_schemas_refill_later, robust=True)
    return "recipe"


def spare_schemas_refill_later() -> None:
    from provisioning.tasks import spare_schemas_refill  # noqa: PLC0415 - tasks import this module

    spare_schemas_refill.delay()


def spare_check(schema_name: str, recipe: Recipe) -> str | None:
    """Why this spare must not be handed out, or None if it is good: its tables exactly the
    recipe's and its migrations this code's. Two indexed queries on the good path. A spare that
    newer code has already migrated (a deploy under way) is as good as any practice then."""
    structure = catalogue.structure_digest(schema_name, recipe.tables)
    if structure is None:
        return "missing: the schema or its tables are gone"
    # With the recipe's tables in place, django_migrations (one of them) can be read directly.
    if structure == recipe.structure_digest and _migrations_digest_of(schema_name) == expected_digest():
        return None
    applied = applied_migrations(schema_name)
    if applied is None or not is_current(applied):
        return "stale: migrations missing"
    if applied <= expected_migrations():
        return "broken: its tables differ from a fresh schema's"
    return None


_MIGRATIONS_DIGEST_SQL = f'SELECT {DIGEST_EXPRESSION} FROM "{{schema}}".django_migrations'  # noqa: S608


def _migrations_digest_of(schema_name: str) -> str | None:
    """The applied-migrations digest of a schema whose tables were just found in place."""
    with connection.cursor() as cursor:
        cursor.execute(_MIGRATIONS_DIGEST_SQL.format(schema=schema_name))
        return cursor.fetchone()[0]  # type: ignore[no-any-return]


_CLAIM_SQL = "SELECT id, schema_name FROM provisioning_spareschema ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
_TAKE_SQL = 'ALTER SCHEMA "{spare}" RENAME TO "{practice}"; DELETE FROM provisioning_spareschema WHERE id = %s'


def spare_claim(*, schema_name: str, recipe: Recipe) -> bool:
    """Rename a good spare to `schema_name` in the current transaction. False if none is free."""
    for _ in range(MAX_DISCARDS_PER_CLAIM + 1):
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL)
            row = cursor.fetchone()
        if row is None:
            return False
        spare_id, spare_name = row
        problem = spare_check(spare_name, recipe)
        with connection.cursor() as cursor:
            if problem is None:
                cursor.execute(_TAKE_SQL.format(spare=spare_name, practice=schema_name), [spare_id])
                return True
        logger.warning("spare schema %s discarded: %s", spare_name, problem)
        _spare_discard(spare_id, spare_name)
    return False


def _spare_discard(spare_id: int, spare_name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{spare_name}" CASCADE')
    SpareSchema.objects.filter(pk=spare_id).delete()


def spare_create(recipe: Recipe) -> SpareSchema:
    """One new spare, in its own transaction."""
    with transaction.atomic():
        schema_name = SPARE_PREFIX + uuid.uuid4().hex[:20]
        schema_create_from_recipe(schema_name, recipe)
        return SpareSchema.objects.create(schema_name=schema_name, migrations_digest=recipe.migrations_digest)


def spare_schemas_refill(*, target: int | None = None) -> RefillReport:
    """Bring the pool to `target` good spares (PROVISIONING_SPARE_SCHEMAS): drop orphans and
    stale spares, create the missing ones. One refill at a time (others return at once)."""
    target = settings.PROVISIONING_SPARE_SCHEMAS if target is None else target
    if not fast_schemas_enabled():
        return RefillReport(0, 0, 0, 0)
    recipe = recipe_current()
    if recipe is None:
        return RefillReport(0, 0, 0, SpareSchema.objects.count())
    with transaction.atomic():  # the whole refill holds the lock; its spares appear at commit
        if not advisory_lock_try(_REFILL_LOCK):
            return RefillReport(0, 0, 0, SpareSchema.objects.count())
        orphans = spare_schemas_drop_orphans()
        discarded = 0
        for spare in SpareSchema.objects.select_for_update(skip_locked=True).order_by("id"):
            problem = spare_check(spare.schema_name, recipe)
            if problem is not None:
                logger.warning("spare schema %s discarded: %s", spare.schema_name, problem)
                _spare_discard(spare.pk, spare.schema_name)
                discarded += 1
        spares = SpareSchema.objects.count()
        created = max(0, target - spares)
        for _ in range(created):
            spare_create(recipe)
    return RefillReport(created, discarded, orphans, spares + created)


def spare_schemas_drop_orphans() -> int:
    """Drop spare-named schemas that have no row (their row was flushed or deleted by hand).
    A spare being created is invisible here until its transaction commits, row and all."""
    known = set(SpareSchema.objects.values_list("schema_name", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", [SPARE_PREFIX.replace("_", "\\_") + "%"]
        )
        orphans = [name for (name,) in cursor.fetchall() if name not in known]
        for name in orphans:
            cursor.execute(f'DROP SCHEMA "{name}" CASCADE')
    return len(orphans)


def schemas_to_migrate() -> list[str]:
    """Every schema that migrate_practices keeps current: the practices' and the spares'."""
    practices = (
        get_tenant_model()
        .objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
        .exclude(schema_name__startswith=DELETED_SCHEMA_PREFIX)
        .order_by("pk")
        .values_list("schema_name", flat=True)
    )
    spares = SpareSchema.objects.order_by("pk").values_list("schema_name", flat=True)
    return [*practices, *spares]
