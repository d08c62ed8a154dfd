"""Migrations that do nothing in a practice schema, recorded without running the migrate command.

Most deploys add migrations to shared apps only (billing, referrals, ...). In a practice schema
django-tenants' router skips every operation of an app that is not in TENANT_APPS, so "applying"
such a migration there only inserts its `django_migrations` row, and the post_migrate signal adds
content types for new models. The stock way does that by loading the graph and running the whole
migrate command in each of 10,000 schemas; here it is two INSERTs per schema, sent for many
schemas per round trip. Anything else (a tenant app's migration among the missing ones) goes to
the real migrate command.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader

from provisioning.migration_state import MigrationName

logger = logging.getLogger(__name__)
BATCH = 100


def _is_tenant_app(app_label: str) -> bool:
    config = apps.get_app_config(app_label)
    full_name = f"{config.__module__}.{config.__class__.__name__}"
    return config.name in settings.TENANT_APPS or full_name in settings.TENANT_APPS


def only_records(missing: Iterable[MigrationName]) -> bool:
    """True when none of these migrations would change a practice schema but by its record."""
    return all(not _is_tenant_app(app_label) for app_label, _ in missing)


@functools.cache
def _plan_order() -> dict[MigrationName, int]:
    """Every migration's position in the order the executor applies a full plan (its algorithm:
    each leaf's forwards plan in turn, first come first placed)."""
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    order: dict[MigrationName, int] = {}
    for leaf in graph.leaf_nodes():
        for node in graph.forwards_plan(leaf):
            order.setdefault(node, len(order))
    return order


def content_types() -> list[tuple[str, str]]:
    """The content types post_migrate keeps in a practice schema: every installed model's."""
    return [
        (model._meta.app_label, model._meta.model_name)  # type: ignore[misc]
        for config in apps.get_app_configs()
        for model in config.get_models()
    ]


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _statements(schema: str, missing: Iterable[MigrationName]) -> str:
    order = _plan_order()
    rows = ", ".join(
        f"({_literal(app)}, {_literal(name)}, now())"
        for app, name in sorted(missing, key=lambda node: order.get(node, len(order)))
    )
    types = ", ".join(
        f"({_literal(app)}, {_literal(model)}, {index})" for index, (app, model) in enumerate(content_types())
    )
    quoted = '"' + schema.replace('"', '""') + '"'
    return (
        f"INSERT INTO {quoted}.django_migrations (app, name, applied) VALUES {rows}; "  # noqa: S608 - literals
        f"INSERT INTO {quoted}.django_content_type (app_label, model) "
        f"SELECT app_label, model FROM (VALUES {types}) AS wanted(app_label, model, position) "
        f"WHERE NOT EXISTS (SELECT FROM {quoted}.django_content_type existing "
        "WHERE existing.app_label = wanted.app_label AND existing.model = wanted.model) ORDER BY position"
    )


def schemas_record(missing_by_schema: dict[str, set[MigrationName]]) -> list[str]:
    """Record the missing migrations of each schema; BATCH schemas per transaction and round
    trip. Returns the schemas recorded; a batch that fails is left to the migrate command."""
    recorded: list[str] = []
    names = sorted(missing_by_schema)
    for start in range(0, len(names), BATCH):
        batch = names[start : start + BATCH]
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(";\n".join(_statements(schema, missing_by_schema[schema]) for schema in batch))
        except Exception:  # noqa: BLE001 - the migrate command takes these schemas instead
            logger.warning("recording migrations failed in one of %s..%s; migrating them instead", batch[0], batch[-1])
            continue
        recorded += batch
    return recorded
