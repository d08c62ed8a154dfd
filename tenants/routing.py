"""Host -> practice resolution, cached in-process.

django-tenants looks the domain up with the ORM on every request (about 0.6 ms, a third of a
one-query view's throughput). Domains change rarely, so each process keeps what it resolved for
a short TTL; saving or deleting a practice or domain clears the cache in that process at once,
other processes within the TTL. Unknown hosts are never cached, so a new practice is reachable
from every process immediately. Access checks never use this cache: memberships are read fresh.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from tenants.models import Practice


class TenantHostCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Practice]] = {}
        self._lock = threading.Lock()

    def get(self, hostname: str) -> Practice | None:
        entry = self._entries.get(hostname)
        if entry is None:
            return None
        expires_at, practice = entry
        if expires_at < time.monotonic():
            with self._lock:
                self._entries.pop(hostname, None)
            return None
        return practice

    def set(self, hostname: str, practice: Practice) -> None:
        ttl = settings.TENANT_HOST_CACHE_SECONDS
        if ttl <= 0:
            return
        with self._lock:
            self._entries[hostname] = (time.monotonic() + ttl, practice)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


tenant_host_cache = TenantHostCache()
