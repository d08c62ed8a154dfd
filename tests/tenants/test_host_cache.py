"""The host -> practice cache across processes (issue 14): a change to a practice or a domain in
one process reaches every other within a check interval, through the generation token in Redis;
without Redis the entries fall back to the short TTL; routing never fails because Redis did."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django_tenants.utils import schema_context

from tenants.models import Domain, Practice, User
from tenants.routing import GENERATION_KEY, TenantHostCache, practice_for_host
from tests.conftest import PracticeMaker, redis_down

pytestmark = pytest.mark.django_db

Pair = tuple[User, Practice]
PROJECT = Path(__file__).resolve().parents[2]


def _another_process_cache(host: str) -> TenantHostCache:
    """Another process's cache (its own memory, the same Redis) holding `host`."""
    other = TenantHostCache()
    assert other.get(host) is None  # reads the generation first, as a process's first request does
    practice = practice_for_host(host)
    assert practice is not None
    other.set(host, practice)
    assert other.get(host) is practice
    return other


@pytest.fixture
def check_every_lookup(settings: Any) -> None:
    settings.TENANT_HOST_GENERATION_CHECK_SECONDS = 0  # as if the interval had passed: no waiting in tests


def test_a_domain_change_in_one_process_empties_the_others_cache(
    practice_a: Pair, check_every_lookup: None, django_capture_on_commit_callbacks
) -> None:
    other = _another_process_cache("alpha.dentaltap.localhost")
    with django_capture_on_commit_callbacks(execute=True):
        domain = Domain.objects.get(domain="alpha.dentaltap.localhost")
        domain.domain = "alpha-moved.dentaltap.localhost"
        domain.save()
    assert other.get("alpha.dentaltap.localhost") is None  # and so the next request asks the database
    assert practice_for_host("alpha.dentaltap.localhost") is None


def test_a_practice_change_or_deletion_empties_the_others_cache(
    practice_a: Pair, practice_b: Pair, check_every_lookup: None, django_capture_on_commit_callbacks
) -> None:
    (_owner, alpha), (_other, bravo) = practice_a, practice_b
    other = _another_process_cache("alpha.dentaltap.localhost")
    with django_capture_on_commit_callbacks(execute=True):
        alpha.time_zone = "Asia/Tokyo"
        alpha.save(update_fields=["time_zone"])
    assert other.get("alpha.dentaltap.localhost") is None
    other = _another_process_cache("bravo.dentaltap.localhost")
    with django_capture_on_commit_callbacks(execute=True):
        Domain.objects.filter(tenant=bravo).delete()
    assert other.get("bravo.dentaltap.localhost") is None


def test_a_new_practice_leaves_the_others_cache_alone(
    practice_a: Pair, make_practice: PracticeMaker, check_every_lookup: None, django_capture_on_commit_callbacks
) -> None:
    other = _another_process_cache("alpha.dentaltap.localhost")
    with django_capture_on_commit_callbacks(execute=True):
        make_practice("charlie", schema=False)  # unknown hosts are never cached: nothing to drop
    assert other.get("alpha.dentaltap.localhost") is not None


def test_a_flushed_redis_empties_every_cache(practice_a: Pair, check_every_lookup: None) -> None:
    with schema_context("public"):
        cache.set(GENERATION_KEY, "some-generation", timeout=None)
    other = _another_process_cache("alpha.dentaltap.localhost")
    with schema_context("public"):
        cache.delete(GENERATION_KEY)  # Redis restarted empty: changes meanwhile may be lost
    assert other.get("alpha.dentaltap.localhost") is None


def test_without_redis_routing_works_and_entries_live_the_short_ttl(
    practice_a: Pair, client_for: Callable[..., Client], settings: Any, check_every_lookup: None
) -> None:
    owner, alpha = practice_a
    other = _another_process_cache("alpha.dentaltap.localhost")
    with redis_down(settings):
        assert client_for(owner, alpha).get("/").status_code == 200
        settings.TENANT_HOST_CACHE_SECONDS = 3600
        assert other.get("alpha.dentaltap.localhost") is not None  # the short TTL, not yet over
        settings.TENANT_HOST_CACHE_SECONDS = 0.000_001
        assert other.get("alpha.dentaltap.localhost") is None  # ... and once it is, gone
        other.set("alpha.dentaltap.localhost", alpha)
    # Back: what was cached while changes could not be heard is dropped at the first check.
    assert other.get("alpha.dentaltap.localhost") is None


_OTHER_PROCESS = textwrap.dedent(
    """
    import sys
    import django
    django.setup()
    from tenants.models import Practice
    from tenants.routing import TenantHostCache
    cache = TenantHostCache()
    cache.get("remote.dentaltap.localhost")
    cache.set("remote.dentaltap.localhost", Practice(pk=1, schema_name="practice_remote", slug="remote"))
    print("cached" if cache.get("remote.dentaltap.localhost") else "missing", flush=True)
    sys.stdin.readline()
    print("kept" if cache.get("remote.dentaltap.localhost") else "dropped", flush=True)
    """
)


def test_a_change_reaches_a_real_other_process(
    practice_a: Pair, check_every_lookup: None, django_capture_on_commit_callbacks
) -> None:
    """Two operating-system processes, one Redis: the web process that changed a practice and
    a worker that had it cached."""
    _owner, alpha = practice_a
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dentaltap.settings.test",
        "DENTALTAP_TENANT_HOST_GENERATION_CHECK_SECONDS": "0",
    }
    other = subprocess.Popen(
        [sys.executable, "-c", _OTHER_PROCESS],
        cwd=PROJECT, env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline().strip() == "cached"
        with django_capture_on_commit_callbacks(execute=True):
            alpha.name = "Alpha renamed"
            alpha.save(update_fields=["name"])
        other.stdin.write("go\n")
        other.stdin.flush()
        assert other.stdout.readline().strip() == "dropped"
    finally:
        other.kill()
        other.wait(timeout=10)


def test_a_lookup_that_read_the_database_before_a_change_is_not_kept_after_it(
    practice_a: Pair, check_every_lookup: None, django_capture_on_commit_callbacks
) -> None:
    """One thread misses and reads the database just before a domain moves; the change commits,
    another thread of the same process sees the new generation and drops every entry; then the
    first thread stores what it read. Kept, it would route the old host for an hour (the
    generation does not change again)."""
    cache_of_process = TenantHostCache()
    host = "alpha.dentaltap.localhost"
    assert cache_of_process.get(host) is None
    since = cache_of_process.epoch
    practice = practice_for_host(host)  # read before the change
    assert practice is not None
    with django_capture_on_commit_callbacks(execute=True):
        domain = Domain.objects.get(domain=host)
        domain.domain = "alpha-moved.dentaltap.localhost"
        domain.save()
    assert cache_of_process.get("another.dentaltap.localhost") is None  # another thread: new generation
    cache_of_process.set(host, practice, since=since)
    assert cache_of_process.get(host) is None
    cache_of_process.set(host, practice)  # (without `since` it would have been kept)
    assert cache_of_process.get(host) is practice
