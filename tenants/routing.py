"""Host -> practice resolution, cached in-process and invalidated across processes.

django-tenants looks the domain up with the ORM on every request (about 0.6 ms, a third of a
one-query view's throughput). Domains change rarely, so each process keeps what it resolved.
With thousands of practices each host is seen rarely by one process, so a short TTL meant a miss
on almost every request (issue 14: routing at 10,000 practices ran at 0.53 of 10). So:

- a change to a practice or a domain (an update or a delete, after commit: a creation cannot be
  cached anywhere, unknown hosts never are) replaces a generation token in Redis;
- each process reads that token at most every TENANT_HOST_GENERATION_CHECK_SECONDS (1 s) and
  drops all it cached when the token differs (or vanished: Redis flushed or restarted); then its
  entries live up to TENANT_HOST_CACHE_MAX_SECONDS;
- while Redis cannot be read, entries live TENANT_HOST_CACHE_SECONDS (30 s), as they did before;
- the process that made the change drops its own entries at once (the save signal).

An entry can be stale for at most two check intervals after the change commits. That decides
routing only: access checks never use this cache (memberships are read fresh on every request).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django_tenants.utils import schema_context
from redis.exceptions import RedisError

from tenants.models import Practice

logger = logging.getLogger(__name__)

# The cache's keys carry the current schema (django_tenants.cache.make_key): the token is always
# read and written in the public schema, so every process and request sees the same key.
GENERATION_KEY = "tenants:host-cache-generation"


def host_cache_generation_bump() -> None:
    """Tell every process that practices or domains changed (their host caches drop everything).
    Called after commit; a Redis failure is logged (other processes then keep their entries up
    to TENANT_HOST_CACHE_MAX_SECONDS, or the short TTL if they cannot read Redis either)."""
    try:
        with schema_context(settings.PUBLIC_SCHEMA_NAME):
            cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
    except RedisError:  # Redis away: routing must not fail the change that was committed
        logger.warning("could not publish the host cache generation; other processes keep theirs a while")


class TenantHostCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Practice]] = {}
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._checked_until = 0.0  # monotonic time of the next generation read
        self._shared = False  # the last read of the generation succeeded
        self._epoch = 0  # how many times the entries were dropped (see set)

    def _check_generation(self, now: float) -> None:
        interval = settings.TENANT_HOST_GENERATION_CHECK_SECONDS
        try:
            with schema_context(settings.PUBLIC_SCHEMA_NAME):
                generation = cache.get(GENERATION_KEY)
        except RedisError:  # Redis away: fall back to the short TTL
            logger.warning("host cache generation unreadable; entries live %ss", settings.TENANT_HOST_CACHE_SECONDS)
            with self._lock:
                self._shared = False
                self._checked_until = now + interval
            return
        with self._lock:
            if not self._shared or generation != self._generation:
                # Entries made while the generation was unknown may predate a change we missed.
                self._entries.clear()
                self._epoch += 1
                self._generation = generation
            self._shared = True
            self._checked_until = now + interval

    def _lifetime(self) -> float:
        return float(settings.TENANT_HOST_CACHE_MAX_SECONDS if self._shared else settings.TENANT_HOST_CACHE_SECONDS)

    def get(self, hostname: str) -> Practice | None:
        now = time.monotonic()
        if now >= self._checked_until:
            self._check_generation(now)
        entry = self._entries.get(hostname)
        if entry is None:
            return None
        stored_at, practice = entry
        if now - stored_at >= self._lifetime():
            with self._lock:
                self._entries.pop(hostname, None)
            return None
        return practice

    @property
    def epoch(self) -> int:
        """Read before a miss's database lookup and given to set(): see set."""
        return self._epoch

    def set(self, hostname: str, practice: Practice, *, since: int | None = None) -> None:
        """Keep what a miss read. `since` is the epoch read before that database read: if the
        entries were dropped meanwhile (a change committed, another thread saw the new generation),
        the practice read may be the one from before the change, and it is not kept (it would
        otherwise live TENANT_HOST_CACHE_MAX_SECONDS under the new generation)."""
        if settings.TENANT_HOST_CACHE_SECONDS <= 0:
            return
        with self._lock:
            if since is not None and since != self._epoch:
                return
            if len(self._entries) >= settings.TENANT_HOST_CACHE_MAX_ENTRIES:
                self._entries.clear()
            self._entries[hostname] = (time.monotonic(), practice)

    def clear(self) -> None:
        """Drop everything and read the generation again on the next lookup."""
        with self._lock:
            self._entries.clear()
            self._epoch += 1
            self._checked_until = 0.0


tenant_host_cache = TenantHostCache()


_PRACTICE_FIELDS = ("id", "schema_name", "name", "slug", "created_at", "time_zone", "restored_from_id")
# A miss in the host cache is one fixed statement instead of an ORM query compiled each time
# (about 1.5 ms of Python per request at 10,000 practices, issue 14). It must stay equivalent to
# Domain.objects.select_related("tenant").get(domain=hostname).tenant.
_PRACTICE_BY_HOST_SQL = (
    "SELECT p.id, p.schema_name, p.name, p.slug, p.created_at, p.time_zone, p.restored_from_id "
    "FROM tenants_domain d "
    "JOIN tenants_practice p ON p.id = d.tenant_id WHERE d.domain = %s"
)


def practice_for_host(hostname: str) -> Practice | None:
    """The practice (or the public tenant) that serves `hostname`, or None. One indexed query."""
    with connection.cursor() as cursor:
        cursor.execute(_PRACTICE_BY_HOST_SQL, [hostname])
        row = cursor.fetchone()
    return Practice.from_db(connection.alias, _PRACTICE_FIELDS, row) if row else None
