"""What the benchmark scripts share: their own servers and data, a practice to measure, turns
and figures.

- the stack: `stack_start(data_dir)` (before Django loads: the bench's own data folder, so the
  embedded PostgreSQL and Redis are the benchmarks' own, never the dev or test ones; then Django),
  `stack_stop()`, `database_reset()` / `database_migrate()`;
- a practice: `practice_signup()`, `practice_client()` (with patients and a logged-in client),
  `practice_remove()`;
- measuring: `turn_order()` / `in_turns()` / `all_turns()` (ways taking turns, the first one rotating),
  `timed()`, `percentile()`, `summary_ms()`, CPU seconds from /proc, `load_average()`;
- printing: `table()`, `rates_table()`, `ratio_line()`.

bench/run.py sets its environment up itself (`isolate_environment`), the standalone scripts call
`stack_start`. Every destructive step here checks once more that it talks to the bench servers
before it drops anything.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from django.test import Client

    from tenants.models import Practice, User

PASSWORD = "Bench-password-2026"  # noqa: S105 - a throwaway account in the throwaway bench database
PROJECT_DIR = Path(__file__).resolve().parent.parent
# Set in a developer's shell, these would point the bench at other servers or change how the app runs.
FOREIGN_ENVIRONMENT = ("DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG", "DENTALTAP_TESTING")

Way = TypeVar("Way")
Result = TypeVar("Result")


# --------------------------------------------------------------------------- the stack


def stack_start(data_dir: str | Path, *, environ: Mapping[str, str] | None = None) -> Path:
    """Before Django loads: the bench's own data folder (created if need be), the app's local
    settings, none of FOREIGN_ENVIRONMENT, `environ` on top (a log level, Stripe secrets ...) and
    the project folder first on the path; then the bench's embedded PostgreSQL and Redis (the
    settings start nothing) and Django. Returns the data folder."""
    for name in FOREIGN_ENVIRONMENT:
        os.environ.pop(name, None)
    folder = Path(data_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["DENTALTAP_DATA_DIR"] = str(folder)
    os.environ["DJANGO_SETTINGS_MODULE"] = "dentaltap.settings.local"
    os.environ.update(environ or {})
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))

    import django

    from dentaltap import devstack

    devstack.ensure_environment()
    django.setup()
    return folder


def stack_stop() -> None:
    """Close this process's connections and stop the bench's PostgreSQL and Redis."""
    from django.db import connections

    from dentaltap import devstack

    connections.close_all()
    devstack.stop()


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
    from django.db import connection

    from dentaltap import devstack_servers
    from tenants.routing import tenant_host_cache

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

    database_migrate(executor="standard")
    tenant_host_cache.clear()


def database_migrate(*, executor: str | None = None, public_tenant: bool = True) -> None:
    """Migrate the shared apps of the bench database as it is (rows kept) and, unless told
    otherwise, make sure the public tenant exists."""
    from django.core.management import call_command

    from tenants.services import public_tenant_ensure

    options = [f"--executor={executor}"] if executor else []
    call_command("migrate_schemas", "--shared", *options, verbosity=0)
    if public_tenant:
        public_tenant_ensure()


# --------------------------------------------------------------------------- a practice


def practice_signup(
    slug: str, *, email: str | None = None, full_name: str | None = None, practice_name: str | None = None
) -> tuple[User, Practice]:
    """A new owner and their practice, through the real signup service (on the public schema)."""
    from django.db import connection

    from accounts.services import account_signup

    connection.set_schema_to_public()
    result = account_signup(
        email=email or f"owner@{slug}.bench.example",
        password=PASSWORD,
        full_name=full_name or f"Owner of {slug}",
        practice_name=practice_name or f"Practice {slug}",
        practice_slug=slug,
    )
    return result.user, result.practice


def practice_client(
    slug: str, *, patients: int = 0, first_name: str = "P{n}", last_name: str = "Bench"
) -> tuple[User, Practice, Client]:
    """A practice signed up through the real service, `patients` patients in its schema (names
    from the two templates, `{n}` the patient's number), and a test client logged in as its owner
    on the practice's host. The connection is left on the public schema."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django_tenants.utils import tenant_context

    from practice.models import Patient

    owner, practice = practice_signup(slug)
    if patients:
        with tenant_context(practice):
            Patient.objects.bulk_create(
                Patient(first_name=first_name.format(n=n), last_name=last_name.format(n=n)) for n in range(patients)
            )
    connection.set_schema_to_public()
    client = Client(HTTP_HOST=f"{practice.slug}.{settings.BASE_DOMAIN}")
    client.force_login(owner)
    return owner, practice, client


def session_cookie(client: Client) -> str:
    """The `Cookie` header of the client's logged-in session, for requests made without it."""
    from django.conf import settings

    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


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


# --------------------------------------------------------------------------- measuring


def turn_order(ways: Sequence[Way], number: int) -> list[Way]:
    """The ways in the order they take their turns in round `number`: the first one rotates
    (with two: a b, b a, a b ...), so drift on a busy machine falls on every way alike."""
    shift = number % len(ways)
    return [*ways[shift:], *ways[:shift]]


def in_turns(
    ways: Sequence[Way], rounds: int, turn: Callable[[Way], Result], *, repeat: int = 1
) -> Iterator[dict[Way, list[Result]]]:
    """`rounds` rounds in which every way takes its turn (`turn(way)`), `repeat` times over, in
    the round's `turn_order`; yields each round's results, way by way, as the round ends."""
    for number in range(rounds):
        results: dict[Way, list[Result]] = {way: [] for way in ways}
        for _ in range(repeat):
            for way in turn_order(ways, number):
                results[way].append(turn(way))
        yield results


def all_turns(ways: Sequence[Way], rounds: int, turn: Callable[[Way], Result]) -> dict[Way, list[Result]]:
    """`in_turns`, one turn per way and round; each way's results over all the rounds, in order."""
    results: dict[Way, list[Result]] = {way: [] for way in ways}
    for taken in in_turns(ways, rounds, turn):
        for way, values in taken.items():
            results[way] += values
    return results


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc), which waiting for a
    core on a busy machine does not inflate."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_cpu_seconds() -> float:
    """CPU seconds this connection's PostgreSQL backend has used (/proc/<pid>/schedstat;
    waiting for a core does not count)."""
    from django.db import connection

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def load_average() -> str:
    """The machine's load average over 1, 5 and 15 minutes: `1.23 / 2.34 / 3.45`."""
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


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


def percentile_nearest(values: Sequence[float], fraction: float) -> float:
    """The value at the nearest rank (no interpolation)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    return {
        "samples": len(seconds),
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "p95_ms": round(percentile(seconds, 0.95) * 1000, 1),
        "min_ms": round(min(seconds) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }


# --------------------------------------------------------------------------- printing


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A small aligned text table for the console."""
    cells = [[str(cell) for cell in header], *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    lines = [title, "  ".join(cell.ljust(width) for cell, width in zip(cells[0], widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in cells[1:]]
    return "\n".join(lines)


def rates_table(title: str, column: str, rates: Mapping[str, Sequence[float]]) -> str:
    """A table of rates per second over rounds, a row a way: its median and its best."""
    rows = [[label, f"{statistics.median(values):.0f}", f"{max(values):.0f}"] for label, values in rates.items()]
    return table(title, [column, "median", "best"], rows)


def ratio_line(label: str, ratios: Sequence[float], goal: float) -> str:
    """The median of per-round ratios, their range and the goal, on one line."""
    return (
        f"ratio {label}: median of {len(ratios)} rounds {statistics.median(ratios):.3f} "
        f"(min {min(ratios):.3f}, max {max(ratios):.3f}); goal >= {goal}"
    )
