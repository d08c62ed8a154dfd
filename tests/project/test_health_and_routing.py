from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client, override_settings

from tenants.models import Domain, Practice, User
from tenants.routing import tenant_host_cache

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_broker_on_any_host(public_tenant: Practice) -> None:
    for host in ("dentaltap.localhost", "10.0.0.7", "unknown.example"):
        response = Client(HTTP_HOST=host).get("/healthz")
        assert response.status_code == 200, host
        body = response.json()
        assert body["status"] == "ok"
        assert body["database"]["status"] == "ok" and body["broker"]["status"] == "ok"


def test_healthz_says_which_part_is_down(public_tenant: Practice) -> None:
    with override_settings(CELERY_BROKER_URL="redis+socket:///nonexistent/redis.sock?virtual_host=0"):
        response = Client(HTTP_HOST="dentaltap.localhost").get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"]["status"] == "ok" and body["broker"]["status"] == "error"


def test_host_lookup_is_cached_and_invalidated_when_a_domain_changes(
    practice_a: tuple[User, Practice], client_for: Callable[..., Client]
) -> None:
    owner, alpha = practice_a
    client = client_for(owner, alpha)
    assert client.get("/").status_code == 200
    assert tenant_host_cache.get("alpha.dentaltap.localhost") is not None

    Domain.objects.filter(domain="alpha.dentaltap.localhost").update(domain="alpha-new.dentaltap.localhost")
    # .update() sends no signal: the entry lives out its TTL in this process...
    assert tenant_host_cache.get("alpha.dentaltap.localhost") is not None
    # ...while a save (the admin, services) clears it at once.
    Domain.objects.get(domain="alpha-new.dentaltap.localhost").save()
    assert tenant_host_cache.get("alpha.dentaltap.localhost") is None
    assert client.get("/").status_code == 404
    assert client.get("/", HTTP_HOST="alpha-new.dentaltap.localhost").status_code == 200
