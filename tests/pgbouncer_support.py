"""PgBouncer in front of the test PostgreSQL (Debian's `pgbouncer`; scripts/test.sh installs it
when it is missing and the machine has root and apt, as it does Chromium).

`PgBouncer(mode=..., pool_size=...)` starts one on a Unix socket in a temporary folder, in front
of the database the suite's connection names (the embedded PostgreSQL's socket, or DATABASE_URL's
host), with trust for local clients and the suite's own credentials to the server.
`database_through(bouncer)` points Django's default connection (and every thread's, the live
server's and the Celery worker's: they share the settings dict) at it, with the settings the
mode needs, and back afterwards.

Without pgbouncer the tests that need it fail with the reason, before they start anything;
DENTALTAP_SKIP_PGBOUNCER_TESTS=1 leaves them out of the run, visibly (tests/conftest.py)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from dentaltap.database import pooled_database_settings
from dentaltap.ports import free_port

PGBOUNCER = os.environ.get("DENTALTAP_PGBOUNCER", shutil.which("pgbouncer") or "/usr/sbin/pgbouncer")
SKIP_PGBOUNCER_TESTS_VARIABLE = "DENTALTAP_SKIP_PGBOUNCER_TESTS"
# Set to session or transaction, the whole run goes through PgBouncer (tests/conftest.py).
WHOLE_RUN_MODE_VARIABLE = "DENTALTAP_TEST_PGBOUNCER_MODE"
# pytestmark for modules that run through PgBouncer.
PGBOUNCER_MARKS = [pytest.mark.pgbouncer]


def pgbouncer_tests_opted_out() -> bool:
    return os.environ.get(SKIP_PGBOUNCER_TESTS_VARIABLE) == "1"


def pgbouncer_missing_message() -> str | None:
    """Why the PgBouncer tests cannot run here, or None when pgbouncer is there."""
    if os.access(PGBOUNCER, os.X_OK):
        return None
    return (
        f"PgBouncer is not installed at {PGBOUNCER}: the connection pooling tests cannot run. scripts/test.sh "
        f"installs Debian's pgbouncer; DENTALTAP_PGBOUNCER names another binary; {SKIP_PGBOUNCER_TESTS_VARIABLE}=1 "
        "leaves these tests out of the run."
    )


def pgbouncer_version() -> tuple[int, ...]:
    first = subprocess.run([PGBOUNCER, "--version"], capture_output=True, text=True, check=True).stdout.split()
    return tuple(int(part) for part in first[1].split(".")[:2])


class PgBouncer:
    """One pgbouncer process in `mode` ("session" or "transaction") with `pool_size` server
    connections per database and user."""

    def __init__(self, *, mode: str, pool_size: int = 4) -> None:
        settings = connections["default"].settings_dict
        self.mode = mode
        self.pool_size = pool_size
        self.port = free_port()  # its socket's name; a port no other fixture got
        self.folder = Path(tempfile.mkdtemp(prefix="dentaltap-pgbouncer-"))
        self.log = self.folder / "pgbouncer.log"
        upstream_host = settings["HOST"] or "localhost"
        user = settings["USER"] or "postgres"
        server = f"host={upstream_host} port={settings['PORT'] or 5432} user={user}"
        if settings.get("PASSWORD"):
            server += f" password={settings['PASSWORD']}"
        (self.folder / "users.txt").write_text(f'"{user}" ""\n')
        (self.folder / "pgbouncer.ini").write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = {server}",  # any database name, passed through (the test database's too)
                    "[pgbouncer]",
                    "listen_addr =",  # the Unix socket only
                    f"listen_port = {self.port}",
                    f"unix_socket_dir = {self.folder}",
                    "auth_type = trust",
                    f"auth_file = {self.folder / 'users.txt'}",
                    f"pool_mode = {mode}",
                    f"default_pool_size = {pool_size}",
                    "max_client_conn = 200",
                    f"logfile = {self.log}",
                    "",
                ]
            )
        )
        command = [PGBOUNCER, str(self.folder / "pgbouncer.ini")]
        if os.geteuid() == 0:
            # pgbouncer refuses to run as root; it runs as the embedded server's user (who may
            # enter its socket folder), or nobody when PostgreSQL is elsewhere.
            on_socket = upstream_host.startswith("/")
            owner = Path(upstream_host).stat().st_uid if on_socket else pwd.getpwnam("nobody").pw_uid
            name = pwd.getpwuid(owner).pw_name
            shutil.chown(self.folder, user=name)
            for path in self.folder.iterdir():
                shutil.chown(path, user=name)
            command[1:1] = ["-u", name]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        socket_path = self.folder / f".s.PGSQL.{self.port}"
        for _ in range(200):
            if socket_path.exists() or self.process.poll() is not None:
                break
            time.sleep(0.05)
        if not socket_path.exists():
            self.stop()
            raise RuntimeError(f"pgbouncer did not start: {self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else "(no log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def connection_settings(self) -> dict[str, Any]:
        return {"HOST": str(self.folder), "PORT": str(self.port), **pooled_database_settings(self.mode)}


@contextlib.contextmanager
def database_through(bouncer: PgBouncer) -> Iterator[None]:
    """Django's default connection goes through `bouncer` meanwhile (for every thread: the
    settings dict is shared), and straight to PostgreSQL again afterwards."""
    connection = connections["default"]
    saved = dict(connection.settings_dict)
    _direct_settings.append(saved)
    connection.close()
    connection.settings_dict.update(bouncer.connection_settings())
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
        _direct_settings.pop()


# The default connection's settings before the first `database_through` changed them: straight
# to PostgreSQL (a whole run through PgBouncer is one `database_through` around every test).
_direct_settings: list[dict[str, Any]] = []


@contextlib.contextmanager
def direct_connection() -> Iterator[Any]:
    """A new connection of the default database's, straight to PostgreSQL even when the run goes
    through PgBouncer: what an administrator uses (`pg_terminate_backend` sent through PgBouncer in
    transaction mode may run on the very server connection it terminates)."""
    settings = _direct_settings[0] if _direct_settings else connections["default"].settings_dict
    direct = type(connections["default"])(dict(settings), "default")
    try:
        yield direct
    finally:
        direct.close()


def server_backend_pid(connection: Any) -> int:
    """The PostgreSQL backend serving this connection's statements now. Behind PgBouncer the pid
    the client library reports (`connection.info.backend_pid`) is PgBouncer's made-up key, no
    server process's: ask the server."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


@contextlib.contextmanager
def running_pgbouncer(*, mode: str, pool_size: int = 4) -> Iterator[PgBouncer]:
    message = pgbouncer_missing_message()
    if message:
        pytest.fail(message, pytrace=False)
    bouncer = PgBouncer(mode=mode, pool_size=pool_size)
    try:
        with database_through(bouncer):
            yield bouncer
    finally:
        bouncer.stop()
