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

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # run as a script: the project first, not bench/

from bench import stack  # noqa: E402

DEFAULT_DATA_DIR = "/tmp/dentaltap-pooling-bench"  # noqa: S108 - the bench's own throw-away servers
CHUNK = 250


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=1000, help="requests per way per round")
    parser.add_argument("--data-dir", default=os.environ.get("DENTALTAP_DATA_DIR", DEFAULT_DATA_DIR))
    arguments = parser.parse_args(argv)
    stack.stack_start(arguments.data_dir)

    from django.conf import settings
    from django.test.utils import override_settings

    from bench.routing import _environ, _handler, _serve
    from bench.urls import ACCESS_CHECKED_PATH
    from tests.pgbouncer_support import PgBouncer, database_through, pgbouncer_version

    settings.ALLOWED_HOSTS = ["*"]
    print(f"Resetting the bench database in {os.environ['DENTALTAP_DATA_DIR']} ...", flush=True)
    stack.database_reset()
    _owner, practice, client = stack.practice_client("poolbench", patients=40)
    environ = _environ(f"{practice.slug}.{settings.BASE_DOMAIN}", ACCESS_CHECKED_PATH, stack.session_cookie(client))

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
                    bouncer_before = stack.process_cpu_seconds(pid) if pid else 0.0
                    cpu_before, started = time.process_time(), time.perf_counter()
                    for _ in range(count):
                        status, _ = _serve(handler, environ)
                        assert status.startswith("200"), (way, status)
                    elapsed = time.perf_counter() - started
                    cpu = time.process_time() - cpu_before
                    bouncer_used = (stack.process_cpu_seconds(pid) - bouncer_before) if pid else 0.0
                return elapsed, cpu, bouncer_used

            for way in ways:
                turn(way, 300)  # warm-up
            chunks = max(1, arguments.requests // CHUNK)
            rounds = stack.in_turns(ways, arguments.rounds, lambda way: turn(way, CHUNK), repeat=chunks)
            for number, turns in enumerate(rounds):
                done = chunks * CHUNK
                for way in ways:
                    elapsed, cpu, bouncer_used = (sum(values) for values in zip(*turns[way], strict=True))
                    rates[way].append(done / elapsed)
                    app_cpu[way].append(cpu * 1000 / done)
                    bouncer_cpu[way].append(bouncer_used * 1000 / done)
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
        stack.table(
            f"Access-checked practice page, in-process, {arguments.rounds} rounds x {arguments.requests} "
            f"requests per way (PgBouncer {version}), load average {os.getloadavg()[0]:.1f}",
            ["way", "req/s (median)", "range", "ratio to direct", "app CPU ms/request", "pgbouncer CPU ms/request"],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
