"""The app's processes: the commands the run command and the system tests (tests/system/) start,
and starting and stopping them in process groups of their own. Importable without Django."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dentaltap.devstack_servers import PROJECT_DIR, log

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


def process_stats() -> Iterator[tuple[int, list[str]]]:
    """Every process's pid and the fields of its /proc stat after the name: state, ppid, pgrp ..."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        yield int(entry.name), stat[stat.rindex(")") + 2 :].split()


def live_group_members(pgids: set[int]) -> dict[int, list[int]]:
    """The live (not zombie) processes of each of these process groups that has any."""
    members: dict[int, list[int]] = {}
    for pid, fields in process_stats():
        if fields[0] != "Z" and int(fields[2]) in pgids:
            members.setdefault(int(fields[2]), []).append(pid)
    return members


def _live_groups(pgids: set[int]) -> set[int]:
    """Which of these process groups still have a live (not zombie) member."""
    return set(live_group_members(pgids))


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
