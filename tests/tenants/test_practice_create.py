"""practice_create is all-or-nothing and safe under concurrent signups. These tests commit for
real (transactional_db): a rolled-back test transaction would hide exactly what they check."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection, connections
from django.test import Client
from django_tenants.utils import schema_context

from accounts.services import account_signup
from dentaltap.errors import ApplicationError
from tenants import services
from tenants.models import Domain, Membership, Practice, User
from tenants.services import public_tenant_ensure
from tests.concurrency import run_together
from tests.conftest import BASE
from tests.factories import DEFAULT_PASSWORD


def schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'practice\\_%%'")
        return {row[0] for row in cursor.fetchall()}


def signup(slug: str, email: str) -> tuple[User, Practice]:
    result = account_signup(
        email=email,
        password=DEFAULT_PASSWORD,
        full_name="Dr. Test",
        practice_name=f"Practice {slug}",
        practice_slug=slug,
    )
    return result.user, result.practice


@pytest.mark.django_db(transaction=True)
def test_failure_after_the_schema_is_created_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    public_tenant_ensure()

    def broken_membership_create(**_: object) -> None:
        raise RuntimeError("database went away between the schema and the membership")

    monkeypatch.setattr(services, "membership_create", broken_membership_create)
    with pytest.raises(RuntimeError):
        signup("halfway", "halfway@example.com")

    assert "practice_halfway" not in schemas()
    assert not Practice.objects.filter(slug="halfway").exists()
    assert not Domain.objects.filter(domain__startswith="halfway.").exists()
    assert not User.objects.filter(email="halfway@example.com").exists()
    assert not Membership.objects.exists()

    # And the same signup works once the fault is gone.
    monkeypatch.undo()
    user, practice = signup("halfway", "halfway@example.com")
    assert "practice_halfway" in schemas() and Membership.objects.filter(user=user, practice=practice).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_signups_for_the_same_address_one_wins_the_other_gets_a_clear_error() -> None:
    public_tenant_ensure()
    results: dict[str, object] = {}
    barrier = threading.Barrier(4)

    def attempt(index: int) -> None:
        try:
            barrier.wait()
            with schema_context("public"):
                results[f"t{index}"] = signup("samename", f"dentist{index}@example.com")
        except ApplicationError as error:
            results[f"t{index}"] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a signup did not finish (a deadlock?)"

    winners = [value for value in results.values() if isinstance(value, tuple)]
    losers = [value for value in results.values() if isinstance(value, ApplicationError)]
    assert len(winners) == 1 and len(losers) == 3, results
    assert all("practice_slug" in error.fields for error in losers)
    assert Practice.objects.filter(slug="samename").count() == 1
    assert schemas() == {"practice_samename"}
    # The losers' accounts were rolled back with their practice: no orphan users.
    assert User.objects.count() == 1
    assert Membership.objects.count() == 1


@pytest.mark.practice_rows_only
@pytest.mark.django_db(transaction=True)
def test_practice_create_refuses_to_run_inside_a_tenant_schema(make_practice: Callable[..., object]) -> None:
    owner, practice = make_practice("inside")  # type: ignore[misc]
    with schema_context(practice.schema_name), pytest.raises(RuntimeError):
        services.practice_create(name="Nested", slug="nested", owner=owner)


@pytest.mark.django_db(transaction=True)
def test_concurrent_signups_with_one_email_make_one_account_and_the_others_get_a_clear_error() -> None:
    """Each signup picks its own address; the mailbox is the same (spelled differently)."""
    public_tenant_ensure()
    spellings = ["lena@example.com", "Lena@Example.com", " LENA@example.com"]

    results = run_together(
        *(lambda index=index, email=email: signup(f"lena-{index}", email) for index, email in enumerate(spellings))
    )

    winners = [result for result in results if isinstance(result, tuple)]
    losers = [result for result in results if isinstance(result, ApplicationError)]
    assert len(winners) == 1 and len(losers) == 2, results
    for error in losers:
        assert "already exists" in error.fields["email"][0] and set(error.fields) == {"email"}
    user, practice = winners[0]
    assert list(User.objects.values_list("pk", "email")) == [(user.pk, "lena@example.com")]
    # The losers' practices were rolled back with their accounts: no row, schema, domain or membership.
    assert list(Practice.objects.exclude(schema_name="public").values_list("slug", flat=True)) == [practice.slug]
    assert schemas() == {practice.schema_name}
    assert list(Domain.objects.filter(domain__startswith="lena-").values_list("tenant_id", flat=True)) == [practice.pk]
    assert list(Membership.objects.values_list("user_id", "practice_id")) == [(user.pk, practice.pk)]


@pytest.mark.django_db(transaction=True)
def test_a_form_and_an_api_signup_with_one_email_at_once_one_succeeds_the_other_names_the_email() -> None:
    public_tenant_ensure()
    cache.clear()  # this run's rate-limit counters
    data = {"full_name": "Dr. Lena Vogel", "email": "lena@example.com", "password": DEFAULT_PASSWORD}

    def form() -> Any:
        browser = Client(HTTP_HOST=BASE, REMOTE_ADDR="198.51.100.21")
        return browser.post("/signup/", {**data, "practice_name": "Vogel Form", "practice_slug": "vogel-form"})

    def api() -> Any:
        client = Client(HTTP_HOST=BASE, REMOTE_ADDR="198.51.100.22")
        body = {**data, "practice_name": "Vogel Api", "practice_slug": "vogel-api"}
        return client.post("/api/signup/", body, content_type="application/json")

    form_response, api_response = run_together(form, api)

    assert sorted([form_response.status_code, api_response.status_code]) in ([201, 400], [302, 400])
    if form_response.status_code == 400:  # the API won: the page shows the error beside the field
        assert b"An account with this email already exists" in form_response.content
        assert b'id="id_email-errors"' in form_response.content
        winner_slug = "vogel-api"
    else:
        error = api_response.json()["error"]
        assert "already exists" in error["fields"]["email"][0] and error["message"]
        winner_slug = "vogel-form"
    assert User.objects.count() == 1
    assert list(Practice.objects.exclude(schema_name="public").values_list("slug", flat=True)) == [winner_slug]
    assert schemas() == {f"practice_{winner_slug.replace('-', '_')}"}
    assert Membership.objects.count() == 1
