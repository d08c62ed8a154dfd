"""The shape Citus schema-based sharding needs (docs/operations.md, "Beyond one machine").

With `citus.enable_schema_based_sharding` every practice schema becomes a distributed schema:
all its tables live together on one worker node. The shared (public) tables stay on the
coordinator, or become reference tables (copied to every node) or tables distributed by
practice. Citus cannot be installed here, so this test holds the code to what the move needs:

1. No foreign key from a practice schema's table to a shared table, except to a table listed in
   REFERENCE_TABLES (a foreign key from a distributed schema may point only at a reference table).
2. No query during a practice's request names another schema's tables (no cross-schema join).
3. Every query during a practice's request touches that practice's schema plus reference tables
   only, or shared tables only (those run on the coordinator, or on the practice's node once
   distributed by practice id): never a practice table together with a non-reference shared one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from tenants.models import Practice, User
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

Pair = tuple[User, Practice]

# Shared tables that would be Citus reference tables: small, read by every practice, written
# rarely and only by staff or deploys. A practice-schema table may point at these and a query
# on a practice's tables may join them.
REFERENCE_TABLES = {
    # the content types (a copy lives in every practice schema too; the admin and permissions read it)
    "django_content_type": "Django's model registry: the same rows on every node, written by migrations",
    # plans and their limits: read with a practice's own rows when a limit is checked
    "billing_plan": "the plans and limits: a handful of rows, written by staff",
}

# Representative practice pages and APIs (GET), then writes (POST) with their bodies.
PAGES = [
    "/",
    "/patients/",
    "/patients/new/",
    "/appointments/",
    "/appointments/new/",
    "/settings/",
    "/team/",
    "/team/audit/",
    "/billing/",
    "/invitations/",
    "/access-requests/",
    "/api/patients/",
    "/api/appointments/",
    "/api/team/members/",
    "/api/billing/",
    "/api/invitations/",
]

_TABLE = re.compile(r'\b(?:FROM|JOIN|INTO|UPDATE)\s+(?:"([^"]+)"|(\w+))(?:\.(?:"([^"]+)"|(\w+)))?', re.IGNORECASE)


def tables_named(sql: str) -> list[tuple[str | None, str]]:
    """(schema or None, table) for every table a statement reads or writes."""
    names = []
    for match in _TABLE.finditer(sql):
        first = match.group(1) or match.group(2)
        second = match.group(3) or match.group(4)
        names.append((first, second) if second else (None, first))
    return names


def schema_tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        return {name for (name,) in cursor.fetchall()}


def shape_violations(queries: list[dict[str, Any]], *, schema: str, practice_tables: set[str]) -> list[str]:
    problems = []
    for query in queries:
        sql = query["sql"]
        in_practice, shared = set(), set()
        for named_schema, table in tables_named(sql):
            if named_schema not in (None, schema, "public"):
                problems.append(f"names another schema ({named_schema}): {sql}")
            elif named_schema == schema or (named_schema is None and table in practice_tables):
                in_practice.add(table)
            else:
                shared.add(table)
        if in_practice and (shared - REFERENCE_TABLES.keys()):
            problems.append(f"joins practice tables {sorted(in_practice)} with shared {sorted(shared)}: {sql}")
    return problems


def test_no_foreign_key_leaves_a_practice_schema_except_to_reference_tables(practice_a: Pair) -> None:
    _, alpha = practice_a
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.conname, src.relname, target_ns.nspname, target.relname FROM pg_constraint c "
            "JOIN pg_class src ON src.oid = c.conrelid JOIN pg_namespace src_ns ON src_ns.oid = src.relnamespace "
            "JOIN pg_class target ON target.oid = c.confrelid "
            "JOIN pg_namespace target_ns ON target_ns.oid = target.relnamespace "
            "WHERE c.contype = 'f' AND src_ns.nspname = %s",
            [alpha.schema_name],
        )
        keys = cursor.fetchall()
    assert keys, "the practice schema has foreign keys of its own (appointment -> patient)"
    leaving = [key for key in keys if key[2] != alpha.schema_name and key[3] not in REFERENCE_TABLES]
    assert leaving == []


def test_the_tenant_models_point_only_at_tenant_models_or_reference_tables() -> None:
    """The same rule read from the models (a new tenant app's foreign key fails here first)."""
    from django.apps import apps
    from django.conf import settings

    tenant_apps = {name.rsplit(".", 1)[-1] for name in settings.TENANT_APPS}
    shared_only = {name.rsplit(".", 1)[-1] for name in settings.SHARED_APPS} - tenant_apps
    pointing_out = []
    for model in apps.get_models():
        if model._meta.app_label not in tenant_apps or model._meta.app_label in shared_only:
            continue
        for field in model._meta.get_fields():
            target = getattr(field, "related_model", None)
            if not getattr(field, "concrete", False) or target is None:
                continue
            if target._meta.app_label not in tenant_apps and target._meta.db_table not in REFERENCE_TABLES:
                pointing_out.append(f"{model._meta.label}.{field.name} -> {target._meta.label}")
    assert pointing_out == []


def test_a_practices_requests_touch_its_schema_and_reference_tables_only(
    practice_a: Pair, practice_b: Pair, client_for: Callable[..., Client]
) -> None:
    (owner, alpha), (_, bravo) = practice_a, practice_b
    with tenant_context(alpha):
        patient = PatientFactory(last_name="Alpha")
    with tenant_context(bravo):
        PatientFactory(last_name="Bravo")
    practice_tables = schema_tables(alpha.schema_name)
    assert {"practice_patient", "practice_appointment"} <= practice_tables
    client = client_for(owner, alpha)
    writes: list[tuple[str, dict[str, Any]]] = [
        ("/patients/new/", {"first_name": "Ada", "last_name": "Lovelace"}),
        (f"/patients/{patient.pk}/edit/", {"first_name": "Ada", "last_name": "Byron"}),
        (
            "/appointments/new/",
            {
                "patient": patient.pk,
                "starts_at": "2030-01-02T10:00",
                "ends_at": "2030-01-02T10:30",
                "status": "completed",
            },
        ),
    ]
    with CaptureQueriesContext(connection) as queries:
        for path in PAGES:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
        for path, data in writes:
            response = client.post(path, data)
            assert response.status_code == 302, (path, response.content[:500])
        response = client.post(
            "/api/patients/", {"first_name": "Grace", "last_name": "Hopper"}, content_type="application/json"
        )
        assert response.status_code == 201
    touched_practice = [
        q for q in queries.captured_queries if any(t in practice_tables for _, t in tables_named(q["sql"]))
    ]
    assert len(touched_practice) > 10  # the pages did read and write the practice's own tables
    assert shape_violations(queries.captured_queries, schema=alpha.schema_name, practice_tables=practice_tables) == []
    assert not any(bravo.schema_name in q["sql"] for q in queries.captured_queries)


def test_the_shape_check_finds_a_cross_schema_join_and_a_shared_join() -> None:
    """The check itself: what it would refuse."""
    practice_tables = {"practice_patient"}
    bad = [
        {"sql": 'SELECT * FROM "practice_patient" JOIN "tenants_membership" ON true'},
        {"sql": 'SELECT * FROM "practice_bravo"."practice_patient"'},
    ]
    good = [
        {"sql": 'SELECT * FROM "practice_patient" JOIN "billing_plan" ON true'},
        {"sql": 'SELECT * FROM "public"."onboarding_practicemilestone" WHERE practice_id = 1'},
        {"sql": 'INSERT INTO "practice_alpha"."practice_patient" VALUES (1)'},
    ]
    assert len(shape_violations(bad, schema="practice_alpha", practice_tables=practice_tables)) == 2
    assert shape_violations(good, schema="practice_alpha", practice_tables=practice_tables) == []
