"""bench/scale.py's per-database worker: serves requests and runs a tenant task in-process.

Started as a subprocess with DENTALTAP_DATABASE_NAME naming its database (the one with 10
practices or the one with 10,000), it reads one JSON command per line on stdin and answers one
JSON line on stdout, so the driver can alternate the two databases round by round:

    {"figure": "routing" | "access" | "task", "requests": 250, "seed": 7}
        ->  {"seconds": wall, "cpu": this process's CPU + its PostgreSQL backend's, seconds,
             "cpu_process": the first, "cpu_backend": the second}
    {"figure": "warm"}      one pass over every practice for each figure (a steady state)
    {"figure": "memory"}    this worker's RSS and its PostgreSQL backend's, in MB (and its pid)
    {"figure": "counts", "of": "routing", "requests": 250, "seed": 7}
        ->  load-independent measures of the same requests: SQL statements and Python function
            calls per request (a profiler counting every call), the statements' texts (schema
            names and numbers masked) and each function's calls, to compare the two workers

Each request picks a practice uniformly at random from all the database's practices.
  routing  GET a one-query view under /api/ on the practice's host, logged out: the tenant
           middleware (host -> practice, search_path) and the view (bench/urls.py).
  access   the same view at a page path, logged in: session, user, and the membership check
           of PracticeAccessMiddleware (tenants/access.py) for that practice, then the view
           (the last-active stamp is written in the warm-up, not during the run: see Worker).
  task     practice.tasks.patient_count_refresh, run through Celery's task machinery in this
           process (`apply`): the practice lookup, the schema switch, the count, the cache write.
"""

from __future__ import annotations

import datetime
import gc
import io
import json
import os
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path[0] = str(PROJECT_DIR)
os.environ["DJANGO_SETTINGS_MODULE"] = "dentaltap.settings.local"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from bench.urls import ACCESS_CHECKED_PATH, ROUTED_PATH  # noqa: E402


def _environ(host: str, path: str, cookie: str | None) -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": host, "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }  # fmt: skip
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    return environ


class Worker:
    def __init__(self) -> None:
        from django.contrib.auth.hashers import make_password

        from practice.tasks import patient_count_refresh
        from tenants import access
        from tenants.models import JoinedVia, Membership, Practice, Role, User

        # The last-active stamp is written at most every 5 minutes per membership: how often that
        # happens depends on how often each member comes back, not on how many practices there
        # are. One visitor hopping at random over all practices comes back to each of 10 every few
        # milliseconds but to each of 10,000 every few rounds, so from 5 minutes after the warm-up
        # the large worker wrote a stamp on ~97% of access requests and the small one on ~2%
        # (counted: 487 and 10 UPDATEs in 500 requests). The warm-up writes every stamp; then
        # neither side writes during the run, and the access figure is the check itself.
        access.LAST_ACTIVE_RESOLUTION = datetime.timedelta(days=1)
        self.task = patient_count_refresh
        self.practices = list(
            Practice.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).order_by("pk").values_list("pk", "slug")
        )
        # One visiting dentist who is a member of every practice: the access check is the same
        # query for any user (by user and practice), and one session serves every host.
        visitor, created = User.objects.get_or_create(
            email="visitor@scale.bench.example",
            defaults={"full_name": "Visiting Dentist", "password": make_password(None)},
        )
        if created:
            Membership.objects.bulk_create(
                Membership(user=visitor, practice_id=pk, role=Role.DENTIST, joined_via=JoinedVia.INVITATION)
                for pk, _ in self.practices
            )
        client = Client()
        client.force_login(visitor)
        self.cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        with override_settings(ROOT_URLCONF="bench.urls"):
            self.handler = WSGIHandler()

    def _serve(self, environ: dict[str, Any]) -> None:
        statuses: list[str] = []
        response = self.handler({**environ, "wsgi.input": io.BytesIO()}, lambda status, *_: statuses.append(status))
        try:
            b"".join(response)
        finally:
            response.close()  # type: ignore[attr-defined]
        assert statuses[0].startswith("200"), (statuses, environ["HTTP_HOST"], environ["PATH_INFO"])

    def _backend_cpu(self) -> float:
        connection.ensure_connection()
        pid = connection.connection.info.backend_pid
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9

    def run(self, figure: str, picks: list[tuple[int, str]]) -> tuple[float, float, float]:
        """Wall seconds and CPU seconds, this process's and its PostgreSQL backend's, for the picks."""
        base = settings.BASE_DOMAIN
        with override_settings(ROOT_URLCONF="bench.urls"):
            if figure == "task":
                work = [pk for pk, _ in picks]
                database, process, started = self._backend_cpu(), time.process_time(), time.perf_counter()
                for pk in work:
                    self.task.apply(args=[pk])
            else:
                path, cookie = (ROUTED_PATH, None) if figure == "routing" else (ACCESS_CHECKED_PATH, self.cookie)
                environs = [_environ(f"{slug}.{base}", path, cookie) for _, slug in picks]
                database, process, started = self._backend_cpu(), time.process_time(), time.perf_counter()
                for environ in environs:
                    self._serve(environ)
            wall = time.perf_counter() - started
            return wall, time.process_time() - process, self._backend_cpu() - database

    def counts(self, figure: str, picks: list[tuple[int, str]]) -> dict[str, Any]:
        """What the requests (or tasks) do, counted rather than timed: statements sent to
        PostgreSQL and Python function calls (every `call` and `c_call` event), per request."""
        statements: Counter[str] = Counter()
        functions: Counter[str] = Counter()
        collections = [0, 0, 0]

        def statement(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            statements[_MASKS.sub("?", sql)] += 1
            return execute(sql, params, many, context)

        def profile(frame: Any, event: str, arg: Any) -> None:
            if event == "call":
                code = frame.f_code
                functions[f"{Path(code.co_filename).name}:{code.co_firstlineno}:{code.co_name}"] += 1
            elif event == "c_call":
                functions[f"<c>:{getattr(arg, '__qualname__', repr(arg))}"] += 1

        def collected(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                collections[info["generation"]] += 1

        with connection.execute_wrapper(statement):
            gc.callbacks.append(collected)
            sys.setprofile(profile)
            try:
                self.run(figure, picks)
            finally:
                sys.setprofile(None)
                gc.callbacks.remove(collected)
        count = len(picks)
        return {
            "statements_per_request": sum(statements.values()) / count,
            "calls_per_request": sum(functions.values()) / count,
            "statements": dict(statements),
            "functions": dict(functions),
            "gc_collections": collections,
        }

    def memory(self) -> dict[str, float | int]:
        connection.ensure_connection()
        backend = connection.connection.info.backend_pid

        def rss(pid: int | str) -> float:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
            return 0.0

        return {"worker_rss_mb": rss("self"), "postgres_backend_rss_mb": rss(backend), "backend_pid": backend}


# Practices' schema names, literals and numbers in a statement's text: the same statement for
# any practice reads the same.
_MASKS = re.compile(r"\"practice_[^\"]*\"|'[^']*'|\b\d+(?:\.\d+)?\b")


def main() -> None:
    worker = Worker()
    print(json.dumps({"ready": True, "practices": len(worker.practices)}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        figure = command["figure"]
        if figure == "memory":
            answer: dict[str, Any] = worker.memory()
        elif figure == "counts":
            randomness = random.Random(command["seed"])  # noqa: S311 - a benchmark's sample
            picks = [randomness.choice(worker.practices) for _ in range(command["requests"])]
            answer = worker.counts(command["of"], picks)
        elif figure == "warm":
            seconds = {name: worker.run(name, worker.practices)[0] for name in ("routing", "access", "task")}
            answer = {"seconds": seconds}
        else:
            randomness = random.Random(command["seed"])  # noqa: S311 - a benchmark's sample
            picks = [randomness.choice(worker.practices) for _ in range(command["requests"])]
            wall, process, backend = worker.run(figure, picks)
            answer = {"seconds": wall, "cpu": process + backend, "cpu_process": process, "cpu_backend": backend}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
