"""Export, delete and restore one practice, end to end against the real database and the Stripe
stand-in: what the archive holds (and never holds), what deletion removes and keeps, and a restore
that gives back the same practice under a new address."""

from __future__ import annotations

import json
import zipfile
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_exists, tenant_context

from billing import stripe_gateway
from billing.models import Payment, PracticeAccount
from dentaltap.errors import ApplicationError
from offboarding.models import OperationKind, PracticeOperation
from offboarding.services import practice_customer_forget, practice_delete, practice_restore
from onboarding.models import PracticeMilestone
from practice.models import Patient
from practice.services import patient_create
from provisioning.services import schemas_to_migrate
from tenants.models import Domain, Membership, Practice
from tenants.tasks import run_in_practice
from tests.conftest import BASE, host
from tests.offboarding.offboarding_support import (
    COMMAND,
    appointments_of,
    exported,
    memberships_of,
    patients_of,
    practice_filled,
)

pytestmark = pytest.mark.django_db


def test_export_delete_restore_gives_the_same_practice_back(make_practice: Any, stripe_standin: Any) -> None:
    owner, practice = make_practice("smile")
    filled = practice_filled(practice, owner, tag="smile")
    PracticeMilestone.objects.get_or_create(
        practice=practice, key="first_patient", defaults={"reached_at": practice.created_at}
    )
    before = {
        "patients": patients_of(practice),
        "appointments": appointments_of(practice),
        "memberships": memberships_of(practice),
        "payments": list(Payment.objects.filter(practice=practice).values_list("stripe_invoice_id", "amount_cents")),
    }
    schema = practice.schema_name

    archive, manifest = exported(practice)
    assert manifest["practice"]["slug"] == "smile"
    assert manifest["row_counts"]["tenant"]["practice_patient"] == 3
    assert manifest["row_counts"]["tenant"]["practice_appointment"] == 2
    assert manifest["row_counts"]["shared"]["tenants.membership"] == 3
    assert ["practice", "0001_initial"] in manifest["migrations"]
    export_log = PracticeOperation.objects.get(kind=OperationKind.EXPORT)
    assert (export_log.practice_id, export_log.reason, export_log.actor_label) == (
        practice.pk,
        "Patient data request #42",
        "tests",
    )
    users = json.loads(zipfile.ZipFile(archive).read("shared/tenants.user.json"))
    assert {user["email"] for user in users} == {owner.email, filled["dentist"].email, filled["receptionist"].email}
    assert all(set(user) == {"id", "email", "full_name", "language"} for user in users)  # no password hash
    archive.seek(0)

    deletion = practice_delete(practice=practice, actor=COMMAND, reason="The dentist closed the practice")
    tombstone = Practice.objects.get(pk=practice.pk)
    assert not schema_exists(schema)
    assert tombstone.slug == f"deleted--{practice.pk}" and tombstone.name == f"Deleted practice {practice.pk}"
    assert tombstone.schema_name not in schemas_to_migrate()
    assert not Domain.objects.filter(tenant_id=practice.pk).exists()
    assert not Membership.objects.filter(practice_id=practice.pk).exists()
    assert not PracticeAccount.objects.filter(practice_id=practice.pk).exists()
    assert Payment.objects.filter(practice_id=practice.pk).count() == 1  # kept for the books
    assert PracticeMilestone.objects.filter(practice_id=practice.pk, key="first_patient").exists()  # the cohorts
    assert run_in_practice(practice.pk, lambda _: Patient.objects.count()) is None  # tasks never enter it
    assert Client(HTTP_HOST=host(practice)).get("/").status_code == 404  # the address is free
    # The Stripe step is owed until it runs (after commit, by its task); it runs once.
    assert deletion.stripe_customer_id == filled["customer"] and deletion.stripe_customer_done_at is None
    assert practice_customer_forget(operation_id=deletion.pk) is True
    assert practice_customer_forget(operation_id=deletion.pk) is False
    assert stripe_standin.state.customers[filled["customer"]] == {
        "id": filled["customer"],
        "object": "customer",
        "deleted": True,
    }
    # Deleting an already deleted customer again counts as done (the retry after a lost answer).
    assert stripe_gateway.customer_delete(customer_id=filled["customer"], idempotency_key="again") is False
    assert len([call for call in stripe_standin.requests("/v1/customers/") if call["method"] == "DELETE"]) == 2

    result = practice_restore(archive_file=archive, slug="smile-again", actor=COMMAND, reason="Came back, ticket 7")
    restored = result.practice
    assert restored.pk != practice.pk and restored.schema_name == "practice_smile_again"
    assert patients_of(restored) == before["patients"]
    assert appointments_of(restored) == before["appointments"]
    assert memberships_of(restored) == before["memberships"]
    assert (
        list(Payment.objects.filter(practice=restored).values_list("stripe_invoice_id", "amount_cents"))
        == before["payments"]
    )
    assert PracticeMilestone.objects.filter(practice=restored, key="first_patient").exists()
    log = PracticeOperation.objects.get(kind=OperationKind.RESTORE)
    assert (log.practice_id, log.source_practice_id) == (restored.pk, practice.pk)
    # The restored practice works: its sequences are past the loaded ids, its owner gets in.
    with tenant_context(restored):
        new = patient_create(practice=restored, first_name="New", last_name="Patient")
        assert new.pk > max(row[0] for row in before["patients"])
        assert Patient.objects.count() == 4
    connection.set_schema_to_public()
    client = Client(HTTP_HOST=f"smile-again.{BASE}")
    client.force_login(owner)
    page = client.get("/patients/")
    assert page.status_code == 200 and "Schmidt" in page.content.decode()


def test_the_archive_never_holds_another_practices_rows(make_practice: Any, stripe_standin: Any) -> None:
    owner_a, alpha = make_practice("alpha")
    owner_b, bravo = make_practice("bravo")
    practice_filled(alpha, owner_a, tag="alpha")
    practice_filled(bravo, owner_b, tag="bravo")

    archive, manifest = exported(alpha)
    members = zipfile.ZipFile(archive)
    everything = b"".join(members.read(name) for name in members.namelist())
    assert b"Anna-alpha" in everything
    assert b"bravo" not in everything.lower()
    assert owner_b.email.encode() not in everything
    for name in members.namelist():
        if name.startswith("shared/") and name != "shared/tenants.user.json":
            for row in json.loads(members.read(name)):
                practice_ids = {row["fields"].get(key) for key in ("practice", "tenant", "beneficiary_practice")}
                assert bravo.pk not in practice_ids, name
    assert manifest["row_counts"]["shared"]["tenants.membership"] == 3


def test_deleting_needs_a_reason_and_a_real_practice(make_practice: Any, public_tenant: Practice) -> None:
    _, practice = make_practice("keep")
    with pytest.raises(ApplicationError) as refused:
        practice_delete(practice=practice, actor=COMMAND, reason=" ")
    assert refused.value.code == "reason_required"
    with pytest.raises(ApplicationError) as public:
        practice_delete(practice=public_tenant, actor=COMMAND, reason="Not a practice at all")
    assert public.value.code == "not_a_practice"
    assert schema_exists(practice.schema_name) and not PracticeOperation.objects.exists()


def test_a_deleted_practice_cannot_be_deleted_or_exported_again(make_practice: Any) -> None:
    _, practice = make_practice("gone")
    practice_delete(practice=practice, actor=COMMAND, reason="Left us for good")
    tombstone = Practice.objects.get(pk=practice.pk)
    with pytest.raises(ApplicationError) as again:
        practice_delete(practice=tombstone, actor=COMMAND, reason="Left us for good")
    assert again.value.code == "practice_deleted"
    with pytest.raises(ApplicationError) as export:
        exported(tombstone)
    assert export.value.code == "practice_deleted"


def test_a_deleted_practices_address_answers_404_in_every_process_at_once(
    make_practice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Its host was cached by a request just before; after the deletion no process may route it
    to the dropped schema (a 500): this one's cache is cleared and every other's is told through
    the generation token (the tombstone is written without a signal)."""
    from django.core.cache import cache
    from django_tenants.utils import schema_context

    from tenants.routing import GENERATION_KEY

    _, practice = make_practice("cached")
    visitor = Client(HTTP_HOST=host(practice))
    assert visitor.get("/").status_code == 302  # to the login: the host is in the cache now
    with schema_context("public"):
        before = cache.get(GENERATION_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        practice_delete(practice=practice, actor=COMMAND, reason="Left us for good")
    with schema_context("public"):
        assert cache.get(GENERATION_KEY) not in (None, before)
    assert visitor.get("/").status_code == 404
    assert visitor.get("/api/patients/").status_code == 404
