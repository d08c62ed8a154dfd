"""Run DentalTap's benchmarks (issue 2) and print each figure.

    .venv/bin/python bench/run.py                        # everything (about 25 minutes on 2 cores)
    .venv/bin/python bench/run.py --only routing         # one figure (or a comma-separated list)
    .venv/bin/python bench/run.py --only creation --practices 100   # a quick creation run

Figures: creation (signup to a usable practice, with 0 and N existing practices), routing
(requests/s with and without tenant routing), memory (peak RSS of a web worker and of a Celery
worker), commands (the README's run and test commands from a fresh clone).

Everything runs against the benchmarks' own embedded PostgreSQL and Redis under --data-dir
(default /tmp/dentaltap-bench-data), never the dev or test databases; DATABASE_URL / REDIS_URL
are ignored. The bench database is dropped and recreated by each figure that needs one, and the
servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
FIGURES = ("creation", "routing", "memory", "commands")
DJANGO_FIGURES = ("creation", "routing", "memory")
DEFAULT_DATA_DIR = str(Path(tempfile.gettempdir()) / "dentaltap-bench-data")


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", default=[], help=f"figures to run, of {', '.join(FIGURES)}")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="the bench servers' data, logs and pip cache")
    parser.add_argument("--json", help="also write the results here (default: <data-dir>/results.json)")
    group = parser.add_argument_group("creation")
    group.add_argument("--practices", type=int, default=1000, help="existing practices for the second figure")
    group.add_argument("--samples", type=int, default=30, help="timed signups at each size")
    group = parser.add_argument_group("routing")
    group.add_argument("--rounds", type=int, default=15, help="alternating rounds of the stacks")
    group.add_argument("--requests", type=int, default=2000, help="requests per stack per round")
    group = parser.add_argument_group("memory")
    group.add_argument("--web-requests", type=int, default=1000)
    group.add_argument("--tasks", type=int, default=1000)
    group = parser.add_argument_group("commands")
    group.add_argument(
        "--pip-cache",
        choices=("both", "warm"),
        default="both",
        help="'both' also times run.sh with an empty pip cache (first-ever install)",
    )
    group.add_argument("--keep-clones", action="store_true", help="leave the fresh clones in /tmp")
    arguments = parser.parse_args(argv)
    selected = [name.strip() for value in arguments.only for name in value.split(",") if name.strip()]
    unknown = sorted(set(selected) - set(FIGURES))
    if unknown:
        parser.error(f"unknown figure(s): {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    arguments.only = [name for name in FIGURES if name in selected] if selected else list(FIGURES)
    return arguments


def isolate_environment(data_dir: str) -> None:
    """Before Django loads: our own data folder, the app's settings, no external servers."""
    for name in ("DATABASE_URL", "REDIS_URL", "DENTALTAP_MAIL_DIR", "DJANGO_DEBUG"):
        os.environ.pop(name, None)
    os.environ["DENTALTAP_DATA_DIR"] = str(Path(data_dir).resolve())
    os.environ["DJANGO_SETTINGS_MODULE"] = "dentaltap.settings.local"
    # Run as a script, Python put bench/ first on the path; the project folder belongs there.
    sys.path[0] = str(PROJECT_DIR)


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    # A shell starts background jobs with SIGINT ignored and children inherit that; the commands
    # figure stops run.sh with SIGINT, as Ctrl-C would, so its children must get the default.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    original_environment = dict(os.environ)
    isolate_environment(arguments.data_dir)
    results: dict[str, object] = {
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
    }
    uses_django = any(name in DJANGO_FIGURES for name in arguments.only)
    failed = []
    try:
        if uses_django:
            import django

            from dentaltap import devstack

            devstack.ensure_environment()  # the bench's own PostgreSQL and Redis (settings start nothing)
            django.setup()
            logging.getLogger("tenants").setLevel(logging.WARNING)  # one INFO line per practice created
        for name in arguments.only:
            print(f"\n=== {name} ===", flush=True)
            try:
                results[name] = run_figure(name, arguments, original_environment)
            except Exception:  # noqa: BLE001 - report it, and still run and record the other figures
                traceback.print_exc()
                results[name] = {"error": traceback.format_exc(limit=3)}
                failed.append(name)
    finally:
        if uses_django:
            from django.db import connections

            from dentaltap import devstack

            connections.close_all()
            devstack.stop()
    results["finished"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    results["load_average_at_end"] = os.getloadavg()
    output = Path(arguments.json or Path(os.environ["DENTALTAP_DATA_DIR"]) / "results.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nresults written to {output}")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def run_figure(name: str, arguments: argparse.Namespace, original_environment: dict[str, str]) -> object:
    if name == "creation":
        from bench import creation

        return creation.run(practices=arguments.practices, samples=arguments.samples)
    if name == "routing":
        from bench import routing

        return routing.run(rounds=arguments.rounds, requests=arguments.requests)
    if name == "memory":
        from bench import memory

        return memory.run(web_requests=arguments.web_requests, tasks=arguments.tasks)
    from bench import commands

    return commands.run(
        environment=original_environment,
        cold_pip_cache=arguments.pip_cache == "both",
        keep_clones=arguments.keep_clones,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
