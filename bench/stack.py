"""The benchmarks' own database and Redis, apart from the dev and test data, and small helpers.

bench/run.py points DENTALTAP_DATA_DIR at a separate folder before Django loads, so the
embedded PostgreSQL and Redis started by the settings are the benchmarks' own. Every
destructive step here checks that once more before it drops anything.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenants.models import Practice, User

PASSWORD = "Bench-password-2026"  # noqa: S105 - a throwaway account in the throwaway bench database


def _bench_only() -> Path:
    """The data folder of the servers we are talking to, after checking that it is not the
    project's own `.data/` (the dev and test databases live there)."""
    from django.conf import settings

    from dentaltap import devstack, devstack_servers

    data_dir = devstack.DATA_DIR
    assert data_dir != (devstack.PROJECT_DIR / ".data").resolve(), "refusing to touch the dev data folder"
    database_host = settings.DATABASES["default"]["HOST"]
    socket_dir = devstack_servers._postgres_socket_dir()
    assert socket_dir is not None, "the bench PostgreSQL is not running"
    assert Path(database_host).resolve() == socket_dir.resolve(), f"database {database_host} is not the bench one"
    assert socket_dir.resolve().is_relative_to(data_dir), f"{socket_dir} is outside {data_dir}"
    return data_dir


def database_reset() -> None:
    """A brand-new bench database: drop it, create it, migrate the shared apps, add the public
    tenant; and an empty bench Redis (no stale broker messages or cached figures)."""
    import psycopg2
    import redis
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from dentaltap import devstack_servers
    from tenants.routing import tenant_host_cache
    from tenants.services import public_tenant_ensure

    _bench_only()
    connection.close()
    admin = psycopg2.connect(host=settings.DATABASES["default"]["HOST"], user="postgres", dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            name = settings.DATABASES["default"]["NAME"]
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()
    _, _, redis_socket = devstack_servers._redis_paths()
    assert str(settings.REDIS_URL).startswith(f"unix://{redis_socket}"), "refusing to flush a foreign Redis"
    redis.Redis(unix_socket_path=str(redis_socket)).flushall()

    call_command("migrate_schemas", "--shared", "--executor=standard", verbosity=0)
    public_tenant_ensure()
    tenant_host_cache.clear()


def practice_signup(slug: str, *, email: str | None = None) -> tuple[User, Practice]:
    """A new owner and their practice, through the real signup service."""
    from django.db import connection

    from accounts.services import account_signup

    connection.set_schema_to_public()
    result = account_signup(
        email=email or f"owner@{slug}.bench.example",
        password=PASSWORD,
        full_name=f"Owner of {slug}",
        practice_name=f"Practice {slug}",
        practice_slug=slug,
    )
    return result.user, result.practice


def practice_remove(practice: Practice, user: User) -> None:
    """Undo a signup completely: rows, schema and user (the app has no delete service yet)."""
    from django.db import connection, transaction

    from tenants.models import Domain

    _bench_only()
    connection.set_schema_to_public()
    with transaction.atomic():
        Domain.objects.filter(tenant=practice).delete()
        practice.delete(force_drop=True)  # memberships cascade; the schema goes too
        user.delete()


def timed(work: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    return {
        "samples": len(seconds),
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "p95_ms": round(percentile(seconds, 0.95) * 1000, 1),
        "min_ms": round(min(seconds) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A small aligned text table for the console."""
    cells = [[str(cell) for cell in header], *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    lines = [title, "  ".join(cell.ljust(width) for cell, width in zip(cells[0], widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in cells[1:]]
    return "\n".join(lines)
