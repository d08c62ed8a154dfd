"""practice_create is all-or-nothing and safe under concurrent signups. These tests commit for
real (transactional_db): a rolled-back test transaction would hide exactly what they check."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections
from django_tenants.utils import schema_context

from dentaltap.errors import ApplicationError
from tenants import services
from tenants.management.commands.demo_seed import public_tenant_ensure
from tenants.models import Domain, Membership, Practice, User
from tests.factories import DEFAULT_PASSWORD


def schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'practice\\_%%'")
        return {row[0] for row in cursor.fetchall()}


def signup(slug: str, email: str) -> tuple[User, Practice]:
    return services.account_signup(
        email=email,
        password=DEFAULT_PASSWORD,
        full_name="Dr. Test",
        practice_name=f"Practice {slug}",
        practice_slug=slug,
    )


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

    winners = [value for value in results.values() if isinstance(value, tuple)]
    losers = [value for value in results.values() if isinstance(value, ApplicationError)]
    assert len(winners) == 1 and len(losers) == 3, results
    assert all("practice_slug" in error.fields for error in losers)
    assert Practice.objects.filter(slug="samename").count() == 1
    assert schemas() == {"practice_samename"}
    # The losers' accounts were rolled back with their practice: no orphan users.
    assert User.objects.count() == 1
    assert Membership.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_practice_create_refuses_to_run_inside_a_tenant_schema(make_practice: Callable[..., object]) -> None:
    owner, practice = make_practice("inside")  # type: ignore[misc]
    with schema_context(practice.schema_name), pytest.raises(RuntimeError):
        services.practice_create(name="Nested", slug="nested", owner=owner)
