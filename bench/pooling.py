"""What PgBouncer and the per-statement search path cost: one practice page, three ways, one run.

    .venv/bin/python bench/pooling.py                 # 9 rounds x 1,000 requests per way
    .venv/bin/python bench/pooling.py --rounds 5 --requests 500

Runs against its own embedded PostgreSQL and Redis (DENTALTAP_DATA_DIR, default
/tmp/dentaltap-pooling-bench), never the dev or test data, and a pgbouncer of its own (Debian's,
tests/pgbouncer_support.py) on a Unix socket. The page is the routing bench's access-checked one
(bench/urls.py: session, user, membership check, one count in the practice's schema), served
in-process through Django's WSGI handler (bench/routing.py), logged in, over:

  direct       the embedded PostgreSQL's socket (django-tenants' backend as it is);
  session      PgBouncer in session mode (the same backend behaviour);
  transaction  PgBouncer in transaction mode: `SET LOCAL search_path ...;` sent with every
               statement (dentaltap/database/base.py).

In each round the three take turns in slices of 250 requests (the first one rotates); per way the
figure is the median over rounds of requests/s, and the CPU per request of this process and of
pgbouncer (from /proc), which waiting for a core on a busy machine does not inflate.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = "/tmp/dentaltap-pooling-bench"  # noqa: S108 - the bench's own throw-away servers
CHUNK = 250


def _process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=1000, help="requests per way per round")
    parser.add_argument("--data-dir", default=os.environ.get("DENTALTAP_DATA_DIR", DEFAULT_DATA_DIR))
    arguments = parser.parse_args(argv)

    for name in ("DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG"):
        os.environ.pop(name, None)
    os.environ["DENTALTAP_DATA_DIR"] = str(Path(arguments.data_dir).resolve())
    os.environ["DJANGO_SETTINGS_MODULE"] = "dentaltap.settings.local"
    sys.path[0] = str(PROJECT_DIR)

    import django

    from dentaltap import devstack

    devstack.ensure_environment()
    django.setup()

    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings
    from django_tenants.utils import tenant_context

    from bench.routing import _environ, _handler, _serve
    from bench.stack import database_reset, practice_signup, table
    from bench.urls import ACCESS_CHECKED_PATH
    from practice.models import Patient
    from tests.pgbouncer_support import PgBouncer, database_through, pgbouncer_version

    settings.ALLOWED_HOSTS = ["*"]
    print(f"Resetting the bench database in {os.environ['DENTALTAP_DATA_DIR']} ...", flush=True)
    database_reset()
    owner, practice = practice_signup("poolbench")
    with tenant_context(practice):
        Patient.objects.bulk_create(Patient(first_name=f"P{number}", last_name="Bench") for number in range(40))
    connection.set_schema_to_public()
    client = Client()
    client.force_login(owner)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    environ = _environ(f"{practice.slug}.{settings.BASE_DOMAIN}", ACCESS_CHECKED_PATH, cookie)

    bouncers = {mode: PgBouncer(mode=mode, pool_size=4) for mode in ("session", "transaction")}
    ways = ["direct", "session", "transaction"]
    rates: dict[str, list[float]] = {way: [] for way in ways}
    app_cpu: dict[str, list[float]] = {way: [] for way in ways}
    bouncer_cpu: dict[str, list[float]] = {way: [] for way in ways}
    try:
        with override_settings(ROOT_URLCONF="bench.urls"):
            handler = _handler(list(settings.MIDDLEWARE))

            def turn(way: str, count: int) -> tuple[float, float, float]:
                bouncer = bouncers.get(way)
                context = database_through(bouncer) if bouncer else contextlib.nullcontext()
                with context:
                    status, body = _serve(handler, environ)  # connects, outside the timing
                    assert status.startswith("200") and body == b"40 patients\n", (way, status, body[:200])
                    pid = bouncer.process.pid if bouncer else None
                    bouncer_before = _process_cpu_seconds(pid) if pid else 0.0
                    cpu_before, started = time.process_time(), time.perf_counter()
                    for _ in range(count):
                        status, _ = _serve(handler, environ)
                        assert status.startswith("200"), (way, status)
                    elapsed = time.perf_counter() - started
                    cpu = time.process_time() - cpu_before
                    bouncer_used = (_process_cpu_seconds(pid) - bouncer_before) if pid else 0.0
                return elapsed, cpu, bouncer_used

            for way in ways:
                turn(way, 300)  # warm-up
            for number in range(arguments.rounds):
                order = ways[number % 3 :] + ways[: number % 3]
                totals = {way: [0.0, 0.0, 0.0] for way in ways}
                for _ in range(max(1, arguments.requests // CHUNK)):
                    for way in order:
                        for index, value in enumerate(turn(way, CHUNK)):
                            totals[way][index] += value
                done = max(1, arguments.requests // CHUNK) * CHUNK
                for way in ways:
                    rates[way].append(done / totals[way][0])
                    app_cpu[way].append(totals[way][1] * 1000 / done)
                    bouncer_cpu[way].append(totals[way][2] * 1000 / done)
                print(
                    f"  round {number + 1}/{arguments.rounds}: " + ", ".join(f"{w} {rates[w][-1]:.0f}/s" for w in ways)
                )
    finally:
        for bouncer in bouncers.values():
            bouncer.stop()

    direct = rates["direct"]
    rows = []
    for way in ways:
        ratio = statistics.median(rate / base for rate, base in zip(rates[way], direct, strict=True))
        rows.append(
            [
                way,
                round(statistics.median(rates[way])),
                f"{min(rates[way]):.0f}-{max(rates[way]):.0f}",
                f"{ratio:.3f}",
                f"{statistics.median(app_cpu[way]):.2f}",
                f"{statistics.median(bouncer_cpu[way]):.3f}",
            ]
        )
    version = ".".join(str(part) for part in pgbouncer_version())
    print(
        table(
            f"Access-checked practice page, in-process, {arguments.rounds} rounds x {arguments.requests} "
            f"requests per way (PgBouncer {version}), load average {os.getloadavg()[0]:.1f}",
            ["way", "req/s (median)", "range", "ratio to direct", "app CPU ms/request", "pgbouncer CPU ms/request"],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
