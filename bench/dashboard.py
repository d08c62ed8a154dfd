"""Referral dashboard and staff analytics timings on a large seeded dataset (issue 6).

    .venv/bin/python bench/dashboard.py                   # 100,000 referrals, 1,000,000 visits
    .venv/bin/python bench/dashboard.py --referrals 20000 --visits 200000 --runs 20

Runs against its own embedded PostgreSQL and Redis (DENTALTAP_DATA_DIR, default
/tmp/dentaltap-dashboard-bench), never the dev or test data: it drops and recreates that
database, seeds it with `manage.py referrals_seed_analytics`, then times whole HTTP requests
through Django's test Client (middleware, session auth, templates, JSON):

- the busiest seeded referrer's "Refer colleagues" page and its API (goal: well under 100 ms);
- the staff analytics page and API over the default 12 months (goal: under 1 s).

Besides wall time, each request's CPU is measured: this process's (Django: middleware, views,
templates) plus the bench PostgreSQL's (the postmaster's children, live and exited), so two
runs on a busy machine can be compared by the work they did rather than by how long they
waited for a core (`--reuse --only /staff/referrals/` times one page alone, for a before/after on
the same seeded data, and adds what one request does: this process's CPU alone, its queries and
its Python function calls, figures that do not move with the load).

Stop the bench servers afterwards:
    DENTALTAP_DATA_DIR=/tmp/dentaltap-dashboard-bench .venv/bin/python -m dentaltap.devstack stop
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = "/tmp/dentaltap-dashboard-bench"  # noqa: S108 - the bench's own throw-away servers


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page (after 3 warm-ups)")
    parser.add_argument("--data-dir", default=os.environ.get("DENTALTAP_DATA_DIR", DEFAULT_DATA_DIR))
    parser.add_argument("--reuse", action="store_true", help="time the data already seeded (no reset)")
    parser.add_argument("--explain", action="store_true", help="print the plan of every staff analytics query")
    parser.add_argument(
        "--only", action="append", default=[], metavar="PATH",
        help="time only these pages (repeatable; /staff/... as staff, the rest as the busiest referrer)",
    )  # fmt: skip
    arguments = parser.parse_args(argv)

    for name in ("DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG"):
        os.environ.pop(name, None)
    os.environ["DENTALTAP_DATA_DIR"] = str(Path(arguments.data_dir).resolve())
    os.environ["DJANGO_SETTINGS_MODULE"] = "dentaltap.settings.local"
    sys.path[0] = str(PROJECT_DIR)

    import django

    from dentaltap import devstack

    devstack.ensure_environment()  # the bench's own PostgreSQL and Redis (settings start nothing)
    django.setup()

    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from bench.stack import database_reset, summary_ms, table, timed
    from tenants.models import User

    settings.ALLOWED_HOSTS = ["*"]
    seed_seconds = None
    if not arguments.reuse:
        print(f"Resetting the bench database in {os.environ['DENTALTAP_DATA_DIR']} ...", flush=True)
        database_reset()
        print(f"Seeding {arguments.referrals} referrals and {arguments.visits} visits ...", flush=True)
        seed_seconds, _ = timed(
            lambda: call_command(
                "referrals_seed_analytics", referrals=arguments.referrals, visits=arguments.visits, verbosity=1
            )
        )

    from django.db.models import Count

    busiest = (
        User.objects.filter(email__startswith="seed-", referrals_made__isnull=False)
        .annotate(n=Count("referrals_made"))
        .order_by("-n")
        .first()
    )
    assert busiest is not None, "nothing seeded: run without --reuse"
    staff, _created = User.objects.get_or_create(
        email="bench-staff@dentaltap.example", defaults={"full_name": "Bench staff", "is_staff": True}
    )
    host = settings.BASE_DOMAIN

    def measure(client: Client, path: str) -> dict[str, float]:
        for _warm_up in range(3):
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code, response.content[:300])
        samples, cpu = [], []
        for _run in range(arguments.runs):
            cpu_before = time.process_time() + postgres_cpu_seconds()
            started = time.perf_counter()
            response = client.get(path)
            samples.append(time.perf_counter() - started)
            cpu.append(time.process_time() + postgres_cpu_seconds() - cpu_before)
            assert response.status_code == 200
        return {**summary_ms(samples), "cpu_median_ms": round(statistics.median(cpu) * 1000, 1)}

    user_client = Client(HTTP_HOST=host)
    user_client.force_login(busiest)
    staff_client = Client(HTTP_HOST=host)
    staff_client.force_login(staff)
    figures = user_client.get("/api/referrals/dashboard/").json()["funnel"]
    print(
        f"Busiest referrer {busiest.email}: {figures['visits']} visits, {figures['signups']} signups, "
        f"{figures['paid_conversions']} paid, earned {figures['earned_cents']} cents"
    )
    if arguments.only:
        rows: list[tuple[object, ...]] = []
        for path in arguments.only:
            client = staff_client if path.startswith(("/staff/", "/api/staff/")) else user_client
            figures = measure(client, path)
            work = request_work(client, path)
            rows.append(
                (path, figures["samples"], figures["median_ms"], figures["p95_ms"], figures["cpu_median_ms"],
                 work["python_cpu_ms"], work["queries"], work["calls"])
            )  # fmt: skip
        header = ["request", "runs", "median ms", "p95 ms", "CPU median ms", "of it Python", "queries", "calls"]
        print(table("Pages", header, rows))
        print(f"Load average at the end: {os.getloadavg()}")
        return 0
    results = {
        "user page /referrals/": measure(user_client, "/referrals/"),
        "user API /api/referrals/dashboard/": measure(user_client, "/api/referrals/dashboard/"),
        "user API list (50 rows)": measure(user_client, "/api/referrals/dashboard/referrals/"),
        "staff page /staff/referrals/ (12 months)": measure(staff_client, "/staff/referrals/"),
        "staff API, weekly cohorts (12 months)": measure(staff_client, "/api/staff/referrals/analytics/?cohort=week"),
    }
    # The same page with nothing in the analytics cache: every past period counted again.
    from django.core.cache import cache

    cold = []
    for _run in range(min(arguments.runs, 10)):
        cache.clear()
        started = time.perf_counter()
        assert staff_client.get("/staff/referrals/").status_code == 200
        cold.append(time.perf_counter() - started)
    results["staff page, analytics cache emptied before each"] = summary_ms(cold)
    results.update(top_referrers_figures(arguments.runs))
    rows = [
        (name, r["samples"], r["median_ms"], r["p95_ms"], r["max_ms"], r.get("cpu_median_ms", ""))
        for name, r in results.items()
    ]
    print()
    if seed_seconds is not None:
        print(f"Seeding: {seed_seconds:.1f} s for {arguments.referrals} referrals and {arguments.visits} visits")
    header = ["request", "runs", "median ms", "p95 ms", "max ms", "CPU median ms"]
    print(table("Referral dashboard and analytics", header, rows))
    print(f"Load average at the end: {os.getloadavg()}")
    if arguments.explain:
        explain_staff_queries()
    return 0


def request_work(client: Any, path: str, runs: int = 20) -> dict[str, float]:
    """What one request does, whatever the load: its queries (SET search_path included), its
    Python function calls (cProfile's count, one request) and this process's CPU alone (median
    of `runs`, without the profiler)."""
    import cProfile
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    query_count = len(queries.captured_queries)  # now: the next request empties the log
    cpu = []
    for _run in range(runs):
        started = time.process_time()
        client.get(path)
        cpu.append(time.process_time() - started)
    profile = cProfile.Profile()
    profile.runcall(client.get, path)
    return {
        "queries": query_count,
        "calls": pstats.Stats(profile).total_calls,  # type: ignore[attr-defined]
        "python_cpu_ms": round(statistics.median(cpu) * 1000, 1),
    }


def postgres_cpu_seconds() -> float:
    """CPU seconds the bench PostgreSQL has used so far: the postmaster's own and its reaped
    children's (exited backends), plus every live child's (Linux /proc)."""
    from dentaltap import devstack

    pgdata = devstack.DATA_DIR / "postgres"
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    ticks = os.sysconf("SC_CLK_TCK")

    def fields(pid: int) -> list[str]:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()

    own = fields(postmaster)  # fields[11:15]: utime, stime, cutime, cstime
    total = sum(int(value) for value in own[11:15])
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = fields(int(entry.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(stat[1]) == postmaster:  # fields[1]: the parent pid
            total += int(stat[11]) + int(stat[12])
    return total / ticks


def top_referrers_figures(runs: int) -> dict[str, dict[str, float]]:
    """Top referrers alone, in-process, in turns: one aggregate over every referral of the range
    (how it was counted before per-month caching) vs rewards.analytics.top_referrers (finished
    months from the cache). Same rows asserted; CPU is this process's plus its PostgreSQL
    backend's (from /proc/<pid>/schedstat), which waiting for a core does not inflate."""
    from django.db import connection
    from django.db.models import Count, Q

    from bench.stack import summary_ms
    from referrals.models import Eligibility, Referral
    from rewards import analytics

    period_range = analytics.default_range()

    def one_aggregate() -> list[tuple[int, int, int, int]]:
        rows = (
            Referral.objects.filter(created_at__gte=period_range.start_at, created_at__lt=period_range.end_before)
            .values("referrer_id")
            .annotate(
                signups=Count("*"),
                paid=Count("created_at", filter=analytics.has_paid()),
                not_eligible=Count("created_at", filter=Q(eligibility=Eligibility.INELIGIBLE)),
            )
            .order_by("-paid", "-signups", "referrer_id")[: analytics.TOP_REFERRERS_LIMIT]
        )
        return [(row["referrer_id"], row["signups"], row["paid"], row["not_eligible"]) for row in rows]

    def from_months() -> list[tuple[int, int, int, int]]:
        rows = analytics.top_referrers(period_range=period_range)
        return [(row["referrer_id"], row["signups"], row["paid"], row["not_eligible"]) for row in rows]

    def backend_cpu() -> float:
        connection.ensure_connection()
        pid = connection.connection.info.backend_pid
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9

    assert one_aggregate() == from_months(), "the cached months must rank exactly as one aggregate"
    wall: dict[str, list[float]] = {"one aggregate": [], "per-month cache": []}
    cpu: dict[str, list[float]] = {"one aggregate": [], "per-month cache": []}
    for run in range(runs):
        order = [("one aggregate", one_aggregate), ("per-month cache", from_months)]
        for name, work in order if run % 2 == 0 else order[::-1]:
            database, process, started = backend_cpu(), time.process_time(), time.perf_counter()
            work()
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - process + backend_cpu() - database)
    result = {}
    for name, samples in wall.items():
        result[f"top referrers, {name} (wall)"] = summary_ms(samples)
        result[f"top referrers, {name} (CPU)"] = summary_ms(cpu[name])
    return result


def explain_staff_queries() -> None:
    """EXPLAIN ANALYZE of every statement the staff page's figures run (cache emptied first)."""
    from django.core.cache import cache
    from django.db import connection

    from rewards import analytics

    captured: list[tuple[str, object]] = []

    def capture(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if not sql.startswith("SET "):
            captured.append((sql, params))
        return execute(sql, params, many, context)

    cache.clear()
    with connection.execute_wrapper(capture):
        analytics.analytics_build(period_range=analytics.default_range())
    seen: set[str] = set()
    with connection.cursor() as cursor:
        for sql, params in captured:
            if sql in seen:  # the same statement for another period: one plan is enough
                continue
            seen.add(sql)
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            print("\n" + sql.split("\n")[0].strip()[:100] + " ...")
            print("\n".join("    " + row[0] for row in cursor.fetchall()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
