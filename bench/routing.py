"""Figure 2: requests/s of a one-query practice view with tenant routing vs without it.

In one process, WSGI environ dicts go straight into Django's WSGIHandler (no HTTP server, no
test client), so the figure is the whole middleware stack plus the view:

  routed   the real MIDDLEWARE (health check, CachedTenantMiddleware, ..., PracticeAccess-
           Middleware) on a practice host; the view sits under /api/, which the access
           middleware passes through, so the difference to `plain` is tenant routing.
  plain    the same MIDDLEWARE minus CachedTenantMiddleware and PracticeAccessMiddleware; the
           connection is set to the practice's schema once, before the loop.
  checked  for information: the real stack on a page path as a logged-in member, so the session,
           the user and the membership are read as on every practice page.
  checked, TENANT_LIMIT_SET_CALLS flipped
           for information: `checked` with the opposite of the settings' TENANT_LIMIT_SET_CALLS
           (django-tenants' option to send `SET search_path` once per schema change instead of
           before every query), to show what that option is worth.

In each round the stacks take turns in slices of 250 requests (the first stack rotates from round
to round); the ratio routed/plain is taken per round and its median is the figure, so drift and
bursts of load on a busy machine hit both sides alike. The ratio of the best rounds (max req/s
of each stack) is given too: noise only ever slows a run down.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test.utils import override_settings

from bench.stack import database_reset, practice_client, session_cookie, table
from bench.urls import ACCESS_CHECKED_PATH, ROUTED_PATH

TENANT_MIDDLEWARE = ("tenants.middleware.CachedTenantMiddleware", "tenants.middleware.PracticeAccessMiddleware")
WARM_UP_REQUESTS = 300
CHUNK = 250  # requests per turn within a round


@dataclass
class Stack:
    name: str
    handler: WSGIHandler
    environ: dict[str, Any]
    context: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext
    rates: list[float] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)


def _handler(middleware: list[str]) -> WSGIHandler:
    with override_settings(MIDDLEWARE=middleware):
        return WSGIHandler()  # the middleware chain is built here, once


def _environ(host: str, path: str, cookie: str | None = None) -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": host,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    return environ


def _serve(handler: WSGIHandler, environ: dict[str, Any]) -> tuple[str, bytes]:
    """One request as a WSGI server makes it, closing the response (request_finished)."""
    statuses: list[str] = []

    def start_response(status: str, headers: object, exc_info: object = None) -> None:
        statuses.append(status)

    response = handler({**environ, "wsgi.input": io.BytesIO()}, start_response)
    try:
        body = b"".join(response)
    finally:
        response.close()  # type: ignore[attr-defined]
    return statuses[0], body


def _seconds(stack: Stack, count: int) -> float:
    """Wall time of `count` requests on one stack."""
    handler, environ = stack.handler, stack.environ
    failures = 0
    with stack.context():
        started = time.perf_counter()
        for _ in range(count):
            status, _ = _serve(handler, environ)
            failures += not status.startswith("200")
        elapsed = time.perf_counter() - started
    assert failures == 0, f"{stack.name}: {failures} of {count} requests failed"
    return elapsed


def _round(stacks: list[Stack], requests: int, first: int) -> None:
    """One round: the stacks take turns in slices of CHUNK requests (starting with stack
    `first`), so a burst of load from elsewhere lands on all of them, not on one."""
    order = stacks[first:] + stacks[:first]
    elapsed = dict.fromkeys((stack.name for stack in stacks), 0.0)
    for _ in range(max(1, requests // CHUNK)):
        for stack in order:
            elapsed[stack.name] += _seconds(stack, CHUNK)
    for stack in stacks:
        stack.rates.append(max(1, requests // CHUNK) * CHUNK / elapsed[stack.name])


@contextlib.contextmanager
def _recorded_statements() -> Iterator[list[str]]:
    """Every statement sent on the connection, including those Django does not log (the
    connection health check and django-tenants' `SET search_path`)."""
    connection.ensure_connection()
    raw = connection.connection
    original = raw.cursor_factory
    recorded: list[str] = []

    class RecordingCursor(original):  # type: ignore[misc, valid-type]
        def execute(self, query: Any, params: Any = None) -> Any:
            recorded.append(" ".join(str(query).split())[:100])
            return super().execute(query, params)

    raw.cursor_factory = RecordingCursor
    try:
        yield recorded
    finally:
        raw.cursor_factory = original


def _practice_in_schema(practice: Any) -> Callable[[], contextlib.AbstractContextManager[object]]:
    @contextlib.contextmanager
    def context() -> Iterator[None]:
        connection.set_tenant(practice)
        yield

    return context


def _stacks() -> list[Stack]:
    from tenants.models import Practice

    _owner, practice, client = practice_client("routing", patients=40)
    cookie = session_cookie(client)
    host = f"{practice.slug}.{settings.BASE_DOMAIN}"
    full = list(settings.MIDDLEWARE)
    assert all(name in full for name in TENANT_MIDDLEWARE), "the settings' middleware changed; update the bench"
    routed = _handler(full)
    plain = _handler([name for name in full if name not in TENANT_MIDDLEWARE])
    practice = Practice.objects.get(pk=practice.pk)
    limit_set_calls = bool(getattr(settings, "TENANT_LIMIT_SET_CALLS", False))
    return [
        Stack("routed", routed, _environ(host, ROUTED_PATH)),
        Stack("plain", plain, _environ(host, ROUTED_PATH), _practice_in_schema(practice)),
        Stack("checked", routed, _environ(host, ACCESS_CHECKED_PATH, cookie)),
        Stack(
            f"checked, TENANT_LIMIT_SET_CALLS={not limit_set_calls}",
            routed,
            _environ(host, ACCESS_CHECKED_PATH, cookie),
            lambda: override_settings(TENANT_LIMIT_SET_CALLS=not limit_set_calls),
        ),
    ]


def run(*, rounds: int, requests: int) -> dict[str, object]:
    database_reset()
    with override_settings(ROOT_URLCONF="bench.urls"):
        stacks = _stacks()
        for stack in stacks:
            with stack.context():
                status, body = _serve(stack.handler, stack.environ)
                assert status.startswith("200") and body == b"40 patients\n", (stack.name, status, body[:200])
                with _recorded_statements() as recorded:
                    _serve(stack.handler, stack.environ)
                stack.statements = recorded
            _seconds(stack, WARM_UP_REQUESTS)
        for number in range(rounds):
            _round(stacks, requests, first=number % len(stacks))
            print(f"  round {number + 1}/{rounds}: " + ", ".join(f"{s.name} {s.rates[-1]:.0f}/s" for s in stacks))
        connection.set_schema_to_public()

    by_name = {stack.name: stack for stack in stacks}
    plain = by_name["plain"].rates

    def ratios(name: str) -> list[float]:
        return [rate / base for rate, base in zip(by_name[name].rates, plain, strict=True)]

    result: dict[str, object] = {
        "rounds": rounds,
        "requests_per_round": requests,
        "stacks": {
            stack.name: {
                "median_requests_per_second": round(statistics.median(stack.rates)),
                "min": round(min(stack.rates)),
                "max": round(max(stack.rates)),
                "median_ratio_to_plain": round(statistics.median(ratios(stack.name)), 3),
                "ratio_range": [round(min(ratios(stack.name)), 3), round(max(ratios(stack.name)), 3)],
                "best_ratio_to_plain": round(max(stack.rates) / max(plain), 3),
                "statements_per_request": stack.statements,
            }
            for stack in stacks
        },
    }
    rows = [
        [
            name,
            values["median_requests_per_second"],
            f"{values['min']}-{values['max']}",
            values["median_ratio_to_plain"],
            "{}-{}".format(*values["ratio_range"]),
            values["best_ratio_to_plain"],
            len(values["statements_per_request"]),
        ]
        for name, values in result["stacks"].items()  # type: ignore[attr-defined]
    ]
    print(
        table(
            f"One-query view, in-process, {rounds} rounds x {requests} requests",
            ["stack", "req/s (median)", "range", "ratio to plain (median)", "ratio range", "best/best", "SQL/request"],
            rows,
        )
    )
    for stack in stacks:
        print(f"  {stack.name}: " + " | ".join(stack.statements))
    return result
