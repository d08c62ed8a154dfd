"""Tenant tasks: ids in, explicit schema, per-practice cache keys, committed-only publishing."""

from __future__ import annotations

import time
from collections.abc import Callable

import kombu.exceptions
import pytest
from django.core.cache import cache
from django.test import Client
from django_tenants.utils import tenant_context

from practice import selectors, services
from practice.models import Patient
from tenants.models import Practice, User

Pair = tuple[User, Practice]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.practice_rows_only("bravo")
@pytest.mark.django_db(transaction=True)
def test_patient_count_is_refreshed_by_a_real_worker_into_that_practices_cache_only(
    celery_worker: object, practice_a: Pair, practice_b: Pair, client_for: Callable[..., Client]
) -> None:
    owner_a, alpha = practice_a
    _, bravo = practice_b
    cache.clear()

    response = client_for(owner_a, alpha).post(
        "/api/patients/", {"first_name": "A", "last_name": "B"}, content_type="application/json"
    )
    assert response.status_code == 201

    def cached_in(practice: Practice) -> object:
        with tenant_context(practice):
            return cache.get(selectors.PATIENT_COUNT_KEY)

    assert wait_for(lambda: cached_in(alpha) == 1), "the worker never refreshed alpha's count"
    assert cached_in(bravo) is None  # same key name, other practice: nothing leaks across


@pytest.mark.django_db
def test_nothing_is_published_when_the_transaction_rolls_back(
    practice_a: Pair, django_capture_on_commit_callbacks: Callable[..., object]
) -> None:
    _, alpha = practice_a
    with tenant_context(alpha):
        with django_capture_on_commit_callbacks() as callbacks:  # type: ignore[attr-defined]
            services.patient_create(practice=alpha, first_name="A", last_name="B")
        # The patient-count refresh and the "first patient" milestone, both after commit.
        assert len(callbacks) == 2  # type: ignore[arg-type]

        with django_capture_on_commit_callbacks() as callbacks:  # type: ignore[attr-defined]
            try:
                with __import__("django.db").db.transaction.atomic():
                    services.patient_create(practice=alpha, first_name="C", last_name="D")
                    raise RuntimeError("rolled back")
            except RuntimeError:
                pass
        assert callbacks == []  # type: ignore[comparison-overlap]
        assert Patient.objects.filter(first_name="C").count() == 0


@pytest.mark.django_db(transaction=True)
def test_redis_outage_does_not_fail_writes_or_pages(
    redis_outage: None, practice_a: Pair, client_for: Callable[..., Client]
) -> None:
    owner, alpha = practice_a
    from practice.tasks import patient_count_refresh

    # Publishing fails as an outage makes it fail (the broker cannot be reached), not as any bug would.
    with pytest.raises(kombu.exceptions.OperationalError, match=r"dentaltap-redis\.sock"):
        patient_count_refresh.delay(alpha.pk)

    client = client_for(owner, alpha)
    created = client.post("/api/patients/", {"first_name": "A", "last_name": "B"}, content_type="application/json")
    assert created.status_code == 201
    dashboard = client.get("/")
    assert dashboard.status_code == 200 and b"<strong>1</strong>" in dashboard.content
    with tenant_context(alpha):
        assert Patient.objects.count() == 1
