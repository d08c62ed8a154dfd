"""The README's run command, started for real and stopped with Ctrl-C.

It runs with a data folder and ports of its own (its own embedded PostgreSQL and Redis, its own
migrations and demo data), so it takes a while: `slow` as well as `system`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.system.support import (
    Browser,
    command_line,
    descendants,
    free_port,
    is_alive,
    listening_addresses,
    port_is_free,
    processes_with_environment,
    wait_until,
)

pytestmark = [pytest.mark.system, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 300.0  # a fresh PostgreSQL cluster, every migration and the demo practices


def _pid_from(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _clean_environment(data_dir: Path, port: int, standin_port: int) -> dict[str, str]:
    """A fresh shell's environment: nothing of this test run's settings leaks in."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DENTALTAP_", "DJANGO_", "STRIPE_", "CELERY_"))
        and key not in ("DATABASE_URL", "REDIS_URL", "XDG_RUNTIME_DIR", "PORT")
    }
    return {
        **inherited,
        "DENTALTAP_DATA_DIR": str(data_dir),
        "PORT": str(port),
        "DENTALTAP_STRIPE_STANDIN_PORT": str(standin_port),
        "PYTHONUNBUFFERED": "1",
    }


def test_ctrl_c_stops_everything_the_run_command_started(tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir = Path(tmp_path_factory.mktemp("run")) / "data"  # short: socket paths are limited
    port, standin_port = free_port(), free_port()
    log_path = data_dir.parent / "run.log"
    with open(log_path, "wb") as log:
        # Its own session, like a shell job: the terminal's Ctrl-C goes to this whole group.
        run = subprocess.Popen(
            [sys.executable, "-m", "dentaltap.devstack", "run"],
            cwd=ROOT,
            env=_clean_environment(data_dir, port, standin_port),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output() -> str:
        return log_path.read_text(errors="replace")[-6000:]

    started: set[int] = set()
    slow_client = socket.socket()
    try:

        def everything_up() -> bool:
            assert run.poll() is None, f"the run command exited early:\n{output()}"
            pids = descendants(run.pid) | processes_with_environment("DENTALTAP_DATA_DIR", str(data_dir))
            started.update(pids)
            commands = [command_line(pid) for pid in pids]
            return (
                "DentalTap is up" in output()
                and sum("gunicorn" in command for command in commands) >= 3  # master and 2 workers
                and sum("celery" in command and " worker" in command for command in commands) >= 3  # and its pool
                and any(" beat" in command for command in commands)
                and any("billing.standin" in command for command in commands)
            )

        wait_until(everything_up, timeout=START_SECONDS, interval=0.5, message="the run command to start it all")
        health = Browser(timeout=10).get(f"http://dentaltap.localhost:{port}/healthz")
        assert health.status == 200, health.text
        # The dev server listens on this machine only.
        assert listening_addresses(port) == {"127.0.0.1"}
        for pid_file in (data_dir / "redis" / "redis.pid", data_dir / "postgres" / "postmaster.pid"):
            server = _pid_from(pid_file)
            assert server is not None and is_alive(server), f"no live server behind {pid_file}"
            started.add(server)
            started.update(descendants(server))  # PostgreSQL's own background processes
        assert len(started) >= 10

        # A browser that keeps a request half-sent: a gunicorn worker waits on it and does not
        # exit on its own (what left a worker holding the port before).
        slow_client.connect(("127.0.0.1", port))
        slow_client.sendall(b"GET /healthz HTTP/1.1\r\nHost: dentaltap.localhost\r\n")

        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C
        assert run.wait(timeout=120) == 0, output()

        def leftovers() -> dict[int, str]:
            return {pid: command_line(pid) for pid in started if is_alive(pid)}

        with contextlib.suppress(AssertionError):
            wait_until(lambda: not leftovers(), timeout=15, message="every process to be gone")
        assert leftovers() == {}, f"left running after Ctrl-C: {leftovers()}\n{output()}"
        assert port_is_free(port) and port_is_free(standin_port)
        assert "[devstack] stopped" in output()
    finally:
        slow_client.close()
        _leave_nothing_behind(run, started, data_dir)


def _leave_nothing_behind(run: subprocess.Popen[bytes], started: set[int], data_dir: Path) -> None:
    """Whatever happened above: stop the run command and everything it may have started."""
    if run.poll() is None:
        os.killpg(run.pid, signal.SIGINT)
        try:
            run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=30)
    for pid_file in (data_dir / "redis" / "redis.pid", data_dir / "postgres" / "postmaster.pid"):
        server = _pid_from(pid_file)
        if server is not None and is_alive(server):
            started.add(server)
    for pid in started | processes_with_environment("DENTALTAP_DATA_DIR", str(data_dir)):
        if is_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
