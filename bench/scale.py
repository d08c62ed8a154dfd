"""Issue 14's figures, side by side from one run: DentalTap with 10,000 practices.

    .venv/bin/python bench/scale.py                       # everything, 10,000 practices (~20-30 min here)
    .venv/bin/python bench/scale.py --practices 1000      # a quicker run
    .venv/bin/python bench/scale.py --reuse               # keep an already seeded bench database

1. seeding   `manage.py practices_seed` fills the bench database with N practices (owner,
             two colleagues, a schema from the recipe, 30 patients and 60 appointments each).
2. creation  with N practices existing: signup -> own practice usable (account_signup), four
             ways in turns, each sample undone afterwards so every one starts from N:
               pool     a spare schema claimed and renamed (the app's normal path);
               recipe   the pool empty: the schema built from the recorded recipe;
               stock    PROVISIONING_FAST_SCHEMAS off: django-tenants creates the schema and
                        runs every migration;
               clone    django-tenants' clone mode (TENANT_BASE_SCHEMA, a migrated base schema,
                        TENANT_CREATION_FAKES_MIGRATIONS): clone_schema() plus faked migrations.
             The signup's password hash is taken out (MD5 hasher during the samples); one
             PBKDF2 hash, Django's default, is timed on its own.
3. deploy    `manage.py migrate_practices` with nothing to migrate, as a deploy runs it (a new
             process, Django start-up included); for comparison django-tenants' stock
             per-schema no-op (`run_migrations`, as `migrate_schemas` does it) timed over a
             sample and multiplied out; and a real migration of a sample of schemas.
4. ratios    requests and tasks at N practices vs 10 practices: two worker processes
             (bench/scale_worker.py), one per database, take turns round by round; each request
             picks a practice at random from all of its database's. Figure: median over rounds
             of rate(N) / rate(10), goal >= 0.95.

Everything runs on the benchmarks' own embedded PostgreSQL and Redis under --data-dir (default
/tmp/dentaltap-scale-bench), never the dev or test data; the servers are stopped at the end.
The load average is recorded before and after each figure (the machine is shared).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
SMALL_DATABASE = "dentaltap_small"
CLONE_BASE = "clone_base"
MODES = ("pool", "recipe", "stock", "clone")


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "dentaltap-scale-bench"))
    parser.add_argument("--practices", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=10, help="practices in the comparison database")
    parser.add_argument("--samples", type=int, default=30, help="timed signups per creation mode")
    parser.add_argument("--stock-deploy-sample", type=int, default=40, help="schemas timed for the stock no-op")
    parser.add_argument("--migration-sample", type=int, default=200, help="schemas really migrated")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=1000, help="per figure, database and round")
    parser.add_argument("--chunk", type=int, default=250, help="requests per turn within a round")
    parser.add_argument(
        "--only", default="", help="comma-separated: seeding, creation, deploy, ratios (with --reuse: a re-run)"
    )
    parser.add_argument("--workers", type=int, default=2, help="seeding and migrate_practices processes")
    parser.add_argument("--reuse", action="store_true", help="keep a bench database already seeded to --practices")
    parser.add_argument("--json", help="also write the results here (default: <data-dir>/scale-results.json)")
    return parser.parse_args(argv)


OPTIONS = arguments(sys.argv[1:])
for _name in ("DATABASE_URL", "REDIS_URL", "DENTALTAP_MAIL_DIR", "DJANGO_DEBUG"):
    os.environ.pop(_name, None)
os.environ["DENTALTAP_DATA_DIR"] = str(Path(OPTIONS.data_dir).resolve())
os.environ["DJANGO_SETTINGS_MODULE"] = "dentaltap.settings.local"
os.environ["DJANGO_LOG_LEVEL"] = "ERROR"
sys.path[0] = str(PROJECT_DIR)

import django  # noqa: E402

from dentaltap import devstack  # noqa: E402

# PostgreSQL inherits the open-file limit of the process that starts it: the soft limit up to the
# hard one, for max_files_per_process (postgres_files_ensure).
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))
devstack.ensure_environment()  # the bench's own PostgreSQL and Redis (settings start nothing)
django.setup()
logging.getLogger("tenants").setLevel(logging.WARNING)
logging.getLogger("provisioning").setLevel(logging.WARNING)

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.test import override_settings  # noqa: E402

from bench.stack import (  # noqa: E402
    PASSWORD,
    _bench_only,
    database_reset,
    percentile,
    practice_remove,
    practice_signup,
    table,
    timed,
)
from dentaltap import devstack  # noqa: E402


def load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def summary(seconds: list[float]) -> dict[str, float]:
    return {
        "samples": len(seconds),
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "p95_ms": round(percentile(seconds, 0.95) * 1000, 1),
        "min_ms": round(min(seconds) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }


def manage(*args: str, database: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ)
    if database:
        environment["DENTALTAP_DATABASE_NAME"] = database
    done = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "manage.py"), *args],
        check=False, cwd=PROJECT_DIR, env=environment, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode:  # the command's own words, not only its exit status
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n", file=sys.stderr)
        done.check_returncode()
    return done


def practices_count() -> int:
    from tenants.models import Practice

    return Practice.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).count()


# --------------------------------------------------------------------------- 1. seeding


def seed_large() -> dict[str, object]:
    _bench_only()
    if OPTIONS.reuse:
        try:
            if practices_count() == OPTIONS.practices:
                print(f"  reusing the bench database with {OPTIONS.practices:,} practices", flush=True)
                return {"reused": True, **catch_up()}
        except Exception:  # noqa: BLE001 - no database yet: seed one
            connection.close()
    database_reset()
    started, before = time.monotonic(), load()
    result = manage("practices_seed", f"--count={OPTIONS.practices}", f"--workers={OPTIONS.workers}")
    seconds = time.monotonic() - started
    print("  " + result.stdout.strip(), flush=True)
    assert practices_count() == OPTIONS.practices
    return {
        "practices": OPTIONS.practices,
        "seconds": round(seconds, 1),
        "practices_per_second": round(OPTIONS.practices / seconds, 1),
        "load_before": before,
        "load_after": load(),
    }


def catch_up() -> dict[str, object]:
    """A reused database meets the code as a deploy would: the public schema first, then the
    practices (migrations that arrived since it was seeded; shared apps' are recorded only)."""
    connections.close_all()
    manage("migrate_schemas", "--shared", "--executor=standard", "-v", "0")
    started = time.monotonic()
    result = manage("migrate_practices", f"--workers={OPTIONS.workers}")
    seconds = time.monotonic() - started
    print(f"  catch-up deploy: {seconds:.1f} s -- {result.stdout.strip()}", flush=True)
    return {"catch_up_seconds": round(seconds, 1), "catch_up_output": result.stdout.strip()}


def seed_small() -> None:
    import psycopg2

    admin = psycopg2.connect(host=settings.DATABASES["default"]["HOST"], user="postgres", dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{SMALL_DATABASE}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{SMALL_DATABASE}"')
    finally:
        admin.close()
    manage("migrate_schemas", "--shared", "--executor=standard", "-v", "0", database=SMALL_DATABASE)
    manage("ensure_public_tenant", database=SMALL_DATABASE)
    manage("practices_seed", f"--count={OPTIONS.small}", "--workers=1", "--prefix=small", database=SMALL_DATABASE)


# --------------------------------------------------------------------------- 2. creation


def clone_base_ensure() -> None:
    from django_tenants.utils import schema_exists

    if not schema_exists(CLONE_BASE):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{CLONE_BASE}"')
        call_command("migrate_schemas", tenant=True, schema_name=CLONE_BASE, interactive=False, verbosity=0)
        connection.set_schema_to_public()


def pool_drain() -> None:
    from provisioning import services
    from provisioning.models import SpareSchema

    with transaction.atomic():
        for spare in SpareSchema.objects.select_for_update():
            services._spare_discard(spare.pk, spare.schema_name)


def backend_cpu_seconds() -> float:
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def one_signup(mode: str, slug: str) -> tuple[float, float, float]:
    """One signup in `mode`, undone afterwards; the practice is checked usable (untimed).
    Returns its wall time and its CPU time, this process's and its PostgreSQL backend's (on a
    busy machine the wall time includes waiting for a core, the CPU time does not)."""
    from django_tenants.utils import schema_context

    from practice.models import Patient
    from provisioning import services
    from provisioning.models import SpareSchema

    if mode == "pool":
        services.spare_schemas_refill(target=1)
    elif mode == "recipe":
        pool_drain()
    mode_settings: dict[str, Any] = {"PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"]}
    if mode == "stock":
        mode_settings["PROVISIONING_FAST_SCHEMAS"] = False
    elif mode == "clone":
        mode_settings.update(TENANT_BASE_SCHEMA=CLONE_BASE, TENANT_CREATION_FAKES_MIGRATIONS=True)
    spares_before = SpareSchema.objects.count()
    # The samples take turns, and a stock or clone sample leaves the garbage collector a debt
    # (the migration graph's objects) that would otherwise be paid inside the next sample.
    gc.collect()
    with override_settings(**mode_settings):
        database_before, app_before = backend_cpu_seconds(), time.process_time()
        seconds, result = timed(lambda: practice_signup(slug))
        app_cpu, database_cpu = time.process_time() - app_before, backend_cpu_seconds() - database_before
    user, practice = result  # type: ignore[misc]
    if mode == "pool":
        assert SpareSchema.objects.count() == spares_before - 1, "the pool sample did not claim a spare"
    with schema_context(practice.schema_name):
        assert Patient.objects.count() == 0
    practice_remove(practice, user)
    return seconds, app_cpu, database_cpu


def creation() -> dict[str, object]:
    from django.contrib.auth.hashers import make_password

    from provisioning.recipe import recipe_current

    before = load()
    recipe_current()
    clone_base_ensure()
    for mode in MODES:  # warm-up: the first of each loads code, templates and the migration graph
        one_signup(mode, f"warm-{mode}")
    samples: dict[str, list[float]] = {mode: [] for mode in MODES}
    cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    app_cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    database_cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    for number in range(OPTIONS.samples):
        order = MODES[number % len(MODES) :] + MODES[: number % len(MODES)]
        for mode in order:
            wall, app_seconds, database_seconds = one_signup(mode, f"{mode}-{number}")
            samples[mode].append(wall)
            cpu[mode].append(app_seconds + database_seconds)
            app_cpu[mode].append(app_seconds)
            database_cpu[mode].append(database_seconds)
        if (number + 1) % 10 == 0:
            print(f"  {number + 1}/{OPTIONS.samples} rounds", flush=True)
    assert practices_count() == OPTIONS.practices, "a sample was not undone"
    pool_drain()
    hash_seconds = statistics.median(timed(lambda: make_password(PASSWORD))[0] for _ in range(5))
    stats = {mode: summary(values) for mode, values in samples.items()}
    cpu_stats = {mode: summary(values) for mode, values in cpu.items()}
    cpu_split = {
        mode: {
            "app_median_ms": round(statistics.median(app_cpu[mode]) * 1000, 1),
            "database_median_ms": round(statistics.median(database_cpu[mode]) * 1000, 1),
        }
        for mode in MODES
    }
    ratios = {
        f"{other}_p95_over_{mode}_p95": round(stats[other]["p95_ms"] / stats[mode]["p95_ms"], 1)
        for mode in ("pool", "recipe")
        for other in ("stock", "clone")
    }
    ratios.update(
        {
            f"{other}_median_over_{mode}_median": round(stats[other]["median_ms"] / stats[mode]["median_ms"], 1)
            for mode in ("pool", "recipe")
            for other in ("stock", "clone")
        }
    )
    rows = [
        [mode, s["samples"], s["median_ms"], s["p95_ms"], s["min_ms"], s["max_ms"],
         cpu_stats[mode]["median_ms"], cpu_stats[mode]["p95_ms"],
         f"{cpu_split[mode]['app_median_ms']} + {cpu_split[mode]['database_median_ms']}"]
        for mode, s in stats.items()
    ]  # fmt: skip
    header = ["mode", "n", "median", "p95", "min", "max", "CPU median", "CPU p95", "CPU app + db (medians)"]
    title = f"Signup -> own practice usable, {OPTIONS.practices:,} practices existing, ms (password hash excluded)"
    print(table(title, header, rows))
    print("  ratios: " + ", ".join(f"{name} {value}" for name, value in ratios.items()))
    print(f"  one PBKDF2 password hash (Django's default, not in the figures above): {hash_seconds * 1000:.0f} ms")
    return {
        "existing_practices": OPTIONS.practices,
        "modes": stats,
        "cpu": cpu_stats,
        "cpu_split": cpu_split,
        "ratios": ratios,
        "password_hash_ms": round(hash_seconds * 1000, 1),
        "goal_p95_ms": 50,
        "load_before": before,
        "load_after": load(),
    }


# --------------------------------------------------------------------------- 3. deploy


def take_back_migration(schema: str) -> None:
    """Put a schema behind for real: practice.0001 un-recorded and its tables dropped."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM \"{schema}\".django_migrations WHERE app = 'practice' AND name = '0001_initial'")  # noqa: S608
        cursor.execute(f'DROP TABLE "{schema}".practice_appointment, "{schema}".practice_patient')


def deploy() -> dict[str, object]:
    from django_tenants.migration_executors.base import run_migrations

    from provisioning import runner, services

    before = load()
    connections.close_all()
    started = time.monotonic()
    result = manage("migrate_practices", f"--workers={OPTIONS.workers}")
    no_op_seconds = time.monotonic() - started
    print(f"  migrate_practices, nothing to do: {no_op_seconds:.1f} s -- {result.stdout.strip()}", flush=True)

    in_process_started = time.monotonic()
    in_process = runner.schemas_migrate(services.schemas_to_migrate(), workers=OPTIONS.workers)
    in_process_seconds = time.monotonic() - in_process_started
    assert not in_process.behind

    schemas = services.schemas_to_migrate()[: OPTIONS.stock_deploy_sample]
    options = runner._migrate_options()
    started = time.monotonic()
    for schema in schemas:
        run_migrations((), options, "standard", schema, allow_atomic=False)
    stock_per_schema = (time.monotonic() - started) / len(schemas)
    stock_total = stock_per_schema * OPTIONS.practices
    print(
        f"  django-tenants' stock no-op, per schema {stock_per_schema * 1000:.0f} ms "
        f"(over {len(schemas)}): x {OPTIONS.practices:,} = {stock_total / 60:.1f} min (extrapolated)",
        flush=True,
    )

    practices = [name for name in services.schemas_to_migrate() if name.startswith("practice_")]
    sample = practices[-OPTIONS.migration_sample :]
    for schema in sample:
        take_back_migration(schema)
    connection.set_schema_to_public()
    started = time.monotonic()
    real = runner.schemas_migrate(services.schemas_to_migrate(), workers=OPTIONS.workers, label="real migration")
    real_seconds = time.monotonic() - started
    assert len(real.migrated) == len(sample) and not real.failed, (len(real.migrated), real.failed)
    rate = len(sample) / real_seconds
    print(
        f"  a real migration (practice.0001 taken back) of {len(sample)} schemas with {OPTIONS.workers} workers: "
        f"{real_seconds:.1f} s ({len(real.replayed)} by replay), {rate:.1f} schemas/s -> "
        f"{OPTIONS.practices / rate / 60:.1f} min for {OPTIONS.practices:,} (extrapolated)",
        flush=True,
    )
    # The same migration by the migrate command in each schema, for comparison (django-tenants'
    # way, and migrate_practices' own for what cannot be replayed).
    command_sample = practices[: OPTIONS.stock_deploy_sample // 2]
    for schema in command_sample:
        take_back_migration(schema)
    connection.set_schema_to_public()
    started = time.monotonic()
    for schema in command_sample:
        assert runner.schema_migrate(schema) is None
    command_per_schema = (time.monotonic() - started) / len(command_sample)
    print(
        f"  the same by the migrate command, schema by schema: {command_per_schema * 1000:.0f} ms each "
        f"(over {len(command_sample)}) -> {command_per_schema * OPTIONS.practices / 60:.1f} min for "
        f"{OPTIONS.practices:,} in one process (extrapolated)",
        flush=True,
    )
    return {
        "no_op_seconds_whole_command": round(no_op_seconds, 2),
        "no_op_seconds_in_process": round(in_process_seconds, 2),
        "no_op_output": result.stdout.strip(),
        "goal_seconds": 60,
        "stock_no_op_ms_per_schema": round(stock_per_schema * 1000, 1),
        "stock_no_op_schemas_timed": len(schemas),
        "stock_no_op_extrapolated_minutes": round(stock_total / 60, 1),
        "real_migration_schemas": len(sample),
        "real_migration_seconds": round(real_seconds, 1),
        "real_migration_schemas_per_second": round(rate, 1),
        "real_migration_replayed": len(real.replayed),
        "migrate_command_ms_per_schema": round(command_per_schema * 1000, 1),
        "migrate_command_schemas_timed": len(command_sample),
        "load_before": before,
        "load_after": load(),
    }


# --------------------------------------------------------------------------- 4. ratios


class WorkerProcess:
    def __init__(self, database: str | None) -> None:
        environment = dict(os.environ)
        if database:
            environment["DENTALTAP_DATABASE_NAME"] = database
        # One connection for the whole run, as the warm-up left it: at the default CONN_MAX_AGE
        # (300 s) a run longer than 5 minutes replaced the large side's backend mid-run, and the
        # new one read the catalogue of every practice it met again (measured apart below), while
        # the small side's re-read is 10 practices'. The steady state is what the ratio compares.
        environment["DJANGO_CONN_MAX_AGE"] = "86400"
        self.process = subprocess.Popen(
            [sys.executable, str(PROJECT_DIR / "bench" / "scale_worker.py")],
            cwd=PROJECT_DIR, env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.hello = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("a scale worker exited")
        return json.loads(line)  # type: ignore[no-any-return]

    def ask(self, **command: object) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


# A request in a practice has PostgreSQL open its patient table's files (heap and indexes, ~4):
# ~40,000 for one backend that serves all 10,000. At the default max_files_per_process (1000) the
# backend closes and reopens ~3 files per request at 10,000 practices and none at 10 (counted with
# strace, docs/benchmarks.md); docs/operations.md sizes it for production. PostgreSQL caps it at
# what the open-file limit allows (20,000 on the shared bench machine).
MAX_FILES_PER_PROCESS = 65_536


def postgres_files_ensure() -> dict[str, object]:
    """max_files_per_process as docs/operations.md says for 10,000 practices (a restart if not)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_files_per_process")
        before = int(cursor.fetchone()[0])
        if before < MAX_FILES_PER_PROCESS:
            cursor.execute(f"ALTER SYSTEM SET max_files_per_process = {MAX_FILES_PER_PROCESS}")
    if before < MAX_FILES_PER_PROCESS:  # a restart, from this process: its open-file limit
        import pgserver

        from dentaltap.devstack_servers import _postgres_paths

        connections.close_all()
        pgdata, _runtime = _postgres_paths()
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        pgserver.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pgdata, user=server.system_user)  # type: ignore[attr-defined]
    return {
        "max_files_per_process": MAX_FILES_PER_PROCESS,
        "was": before,
        "open_files_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    }


def counts(small: WorkerProcess, large: WorkerProcess, figures: tuple[str, ...]) -> dict[str, object]:
    """Load-independent: statements and Python function calls per request, both workers, the
    same picks' worth of requests; and whether the statements' texts are the same."""
    result: dict[str, object] = {}
    for figure in figures:
        answers = {side: worker.ask(figure="counts", of=figure, requests=OPTIONS.chunk, seed=1) for side, worker in
                   (("small", small), ("large", large))}  # fmt: skip
        result[figure] = {
            "statements_per_request": {side: answer["statements_per_request"] for side, answer in answers.items()},
            "calls_per_request": {side: round(answer["calls_per_request"], 1) for side, answer in answers.items()},
            "same_statements": answers["small"]["statements"] == answers["large"]["statements"],
        }
        print(f"  counts, {figure}: {result[figure]}", flush=True)
    return result


def ratios() -> dict[str, object]:
    before = load()
    files = postgres_files_ensure()
    print(f"  PostgreSQL files: {files}", flush=True)
    connections.close_all()
    small, large = WorkerProcess(SMALL_DATABASE), WorkerProcess(None)
    try:
        assert small.hello["practices"] == OPTIONS.small and large.hello["practices"] == OPTIONS.practices
        warm = {"small": small.ask(figure="warm")["seconds"], "large": large.ask(figure="warm")["seconds"]}
        figures = ("routing", "access", "task")
        rates: dict[str, dict[str, list[float]]] = {figure: {"small": [], "large": []} for figure in figures}
        cpu: dict[str, dict[str, list[float]]] = {figure: {"small": [], "large": []} for figure in figures}
        backend: dict[str, dict[str, list[float]]] = {figure: {"small": [], "large": []} for figure in figures}
        turns = max(1, OPTIONS.requests // OPTIONS.chunk)
        for number in range(OPTIONS.rounds):
            for figure in figures:
                pair = [("small", small), ("large", large)]
                wall = {"small": 0.0, "large": 0.0}
                spent = {"small": 0.0, "large": 0.0}
                spent_backend = {"small": 0.0, "large": 0.0}
                for turn in range(turns):  # the two take turns, so a burst of load lands on both
                    for side, worker in pair if (number + turn) % 2 == 0 else pair[::-1]:
                        answer = worker.ask(figure=figure, requests=OPTIONS.chunk, seed=number * 1000 + turn)
                        wall[side] += answer["seconds"]
                        spent[side] += answer["cpu"]
                        spent_backend[side] += answer["cpu_backend"]
                for side in ("small", "large"):
                    rates[figure][side].append(turns * OPTIONS.chunk / wall[side])
                    cpu[figure][side].append(spent[side] / (turns * OPTIONS.chunk) * 1000)
                    backend[figure][side].append(spent_backend[side] / (turns * OPTIONS.chunk) * 1000)
            print(
                f"  round {number + 1}/{OPTIONS.rounds}: "
                + ", ".join(
                    f"{figure} {rates[figure]['large'][-1]:.0f}/{rates[figure]['small'][-1]:.0f}" for figure in figures
                ),
                flush=True,
            )
        memory = {"small": small.ask(figure="memory"), "large": large.ask(figure="memory")}
        counted = counts(small, large, figures)
    finally:
        small.close()
        large.close()
    result: dict[str, object] = {"warm_up_seconds": warm, "memory_mb": memory, "counts": counted, "files": files}
    rows = []
    for figure in figures:
        per_round = [big / little for big, little in zip(rates[figure]["large"], rates[figure]["small"], strict=True)]
        cpu_per_round = [little / big for big, little in zip(cpu[figure]["large"], cpu[figure]["small"], strict=True)]
        entry = {
            f"per_second_at_{OPTIONS.small}": round(statistics.median(rates[figure]["small"])),
            f"per_second_at_{OPTIONS.practices}": round(statistics.median(rates[figure]["large"])),
            "ratio_median": round(statistics.median(per_round), 3),
            "ratio_range": [round(min(per_round), 3), round(max(per_round), 3)],
            "ratio_best": round(max(rates[figure]["large"]) / max(rates[figure]["small"]), 3),
            f"cpu_ms_per_request_at_{OPTIONS.small}": round(statistics.median(cpu[figure]["small"]), 3),
            f"cpu_ms_per_request_at_{OPTIONS.practices}": round(statistics.median(cpu[figure]["large"]), 3),
            "cpu_ratio_median": round(statistics.median(cpu_per_round), 3),
            "cpu_ratio_range": [round(min(cpu_per_round), 3), round(max(cpu_per_round), 3)],
            # of the CPU per request, the PostgreSQL backend's (the rest is the worker's Python)
            f"backend_cpu_ms_per_request_at_{OPTIONS.small}": round(statistics.median(backend[figure]["small"]), 3),
            f"backend_cpu_ms_per_request_at_{OPTIONS.practices}": round(statistics.median(backend[figure]["large"]), 3),
        }
        result[figure] = entry
        rows.append(
            [
                figure,
                entry[f"per_second_at_{OPTIONS.small}"],
                entry[f"per_second_at_{OPTIONS.practices}"],
                entry["ratio_median"],
                "{}-{}".format(*entry["ratio_range"]),
                entry["ratio_best"],
                f"{entry[f'cpu_ms_per_request_at_{OPTIONS.small}']} / {entry[f'cpu_ms_per_request_at_{OPTIONS.practices}']}",
                entry["cpu_ratio_median"],
                "{}-{}".format(*entry["cpu_ratio_range"]),
                f"{entry[f'backend_cpu_ms_per_request_at_{OPTIONS.small}']} / "
                f"{entry[f'backend_cpu_ms_per_request_at_{OPTIONS.practices}']}",
            ]
        )
    header = [
        "figure", f"/s at {OPTIONS.small}", f"/s at {OPTIONS.practices:,}", "ratio (median)", "range", "best/best",
        "CPU ms/request", "CPU ratio (median)", "CPU range", "of which PostgreSQL",
    ]  # fmt: skip
    title = (
        f"{OPTIONS.practices:,} practices vs {OPTIONS.small}: median of {OPTIONS.rounds} rounds x {OPTIONS.requests}"
    )
    print(table(title, header, rows))
    print(f"  memory after the run (MB): {memory}")
    result.update(load_before=before, load_after=load(), goal_ratio=0.95)
    return result


def main() -> int:
    results: dict[str, object] = {
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "load_at_start": load(),
        "practices": OPTIONS.practices,
    }
    only = {name.strip() for name in OPTIONS.only.split(",") if name.strip()}
    try:
        for name, figure in (
            ("seeding", seed_large),
            ("creation", creation),
            ("deploy", deploy),
            ("small_database", seed_small),
            ("ratios", ratios),
        ):
            needed = {"seeding"} | ({"small_database"} if "ratios" in only else set())
            if only and name not in only | needed:
                continue
            print(f"\n=== {name} (load {load()}) ===", flush=True)
            results[name] = figure()
    finally:
        connections.close_all()
        devstack.stop()
    results["finished"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    results["load_at_end"] = load()
    output = Path(OPTIONS.json or Path(OPTIONS.data_dir) / "scale-results.json")
    output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nresults written to {output}; load at start {results['load_at_start']}, at end {results['load_at_end']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
