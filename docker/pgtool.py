"""Container helpers for docker/entrypoint.sh. They must not import Django settings.

    python docker/pgtool.py wait [--timeout SECONDS]   # until PostgreSQL and Redis answer
    python docker/pgtool.py locked -- COMMAND ...       # run COMMAND holding a PostgreSQL advisory lock

`locked` serialises release tasks (migrations, seeding) when several web containers start at once:
the second waits for the first and then finds nothing left to do.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable

import psycopg2
import redis

# Arbitrary, fixed: identifies "DentalTap release tasks" among advisory locks in this database.
RELEASE_LOCK_KEY = 0x0DE7A17A9


def log(message: str) -> None:
    print(f"[entrypoint] {message}", file=sys.stderr, flush=True)


def _required_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        # Without it, settings would try to start the embedded dev servers, which the image
        # does not install (the `embedded` extra): fail here with a clear message instead.
        log(f"{name} is not set; the container needs an external server (see docker-compose.yml)")
        raise SystemExit(2)
    return value


def _redact(url: str) -> str:
    """The URL without its password, for logs."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def _postgres_probe(url: str) -> Callable[[], None]:
    def probe() -> None:
        connection = psycopg2.connect(url, connect_timeout=3)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        finally:
            connection.close()

    return probe


def _redis_probe(url: str) -> Callable[[], None]:
    def probe() -> None:
        client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        try:
            client.ping()
        finally:
            client.close()

    return probe


def _wait_for(name: str, url: str, probe: Callable[[], None], deadline: float) -> None:
    attempt = 0
    while True:
        try:
            probe()
        except Exception as error:  # noqa: BLE001 - any failure means "not yet"
            if time.monotonic() >= deadline:
                log(f"{name} at {_redact(url)} did not answer in time: {type(error).__name__}: {error}".strip())
                raise SystemExit(1) from None
            if attempt % 10 == 0:
                log(f"waiting for {name} at {_redact(url)} ({type(error).__name__})")
            attempt += 1
            time.sleep(1)
        else:
            log(f"{name} is up")
            return


def wait(timeout: float) -> int:
    database_url = _required_env("DATABASE_URL")
    redis_url = _required_env("REDIS_URL")
    deadline = time.monotonic() + timeout
    _wait_for("PostgreSQL", database_url, _postgres_probe(database_url), deadline)
    _wait_for("Redis", redis_url, _redis_probe(redis_url), deadline)
    return 0


def locked(command: list[str]) -> int:
    if not command:
        log("locked: no command given")
        return 2
    connection = psycopg2.connect(_required_env("DATABASE_URL"), connect_timeout=10)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [RELEASE_LOCK_KEY])
            if not cursor.fetchone()[0]:
                log("another container is running the release tasks; waiting for it")
                cursor.execute("SELECT pg_advisory_lock(%s)", [RELEASE_LOCK_KEY])
        return subprocess.call(command)  # noqa: S603 - the entrypoint's own fixed command
    finally:
        connection.close()  # ends the session, which releases the lock


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pgtool")
    commands = parser.add_subparsers(dest="command", required=True)
    wait_parser = commands.add_parser("wait", help="wait until PostgreSQL and Redis answer")
    wait_parser.add_argument("--timeout", type=float, default=60.0)
    locked_parser = commands.add_parser("locked", help="run a command under the release advisory lock")
    locked_parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "wait":
        return wait(args.timeout)
    command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    return locked(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
