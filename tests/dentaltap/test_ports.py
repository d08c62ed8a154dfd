"""Every server the suite and the run command start binds again at once on the port it just left,
while the last connections linger in TIME_WAIT (a run started within a minute of another); a
port someone listens on is named in a plain error; the ports the fixtures get never repeat."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from billing.standin import StandinState, serve
from dentaltap import devstack, ports
from tests.live_server_support import start_live_server

ROOT = Path(__file__).resolve().parents[2]
TIME_WAIT = "06"  # the state column of /proc/net/tcp


def _in_time_wait(port: int) -> bool:
    """A connection whose local end is `port` lingers in TIME_WAIT (this network namespace)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == TIME_WAIT:
                    return True
    return False


def _connect_and_let_the_server_close_first(port: int) -> None:
    """A request the server answers (400) and then closes: the server's side ends in TIME_WAIT,
    on the server's own port, as after any real run's last request."""
    deadline = time.monotonic() + 60
    while True:
        try:
            client = socket.create_connection(("127.0.0.1", port), timeout=10)
            break
        except OSError:  # gunicorn's master is still starting: bounded, no timing is asserted
            assert time.monotonic() < deadline, f"nothing answered on port {port}"
            time.sleep(0.1)
    with client:
        client.sendall(b"not http\r\n\r\n")
        while client.recv(4096):  # until the server closes
            pass


def _live_server(port: int) -> Callable[[], None]:
    server = start_live_server(f"localhost:{port}", wait=0)
    return server.stop


def _standin(port: int) -> Callable[[], None]:
    server = serve("127.0.0.1", port, StandinState(), poll_interval=0.02)

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop


def _gunicorn(port: int) -> Callable[[], None]:
    process = devstack.start_process(
        devstack.web_command(bind="127.0.0.1", port=port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return lambda: devstack.stop_processes([process])


@pytest.mark.parametrize("start", [_live_server, _standin, _gunicorn], ids=["live server", "stand-in", "gunicorn"])
def test_a_server_binds_its_port_again_at_once_after_a_connection(start: Callable[[int], Callable[[], None]]) -> None:
    port = ports.free_port()
    stop = start(port)
    try:
        _connect_and_let_the_server_close_first(port)
    finally:
        stop()
    assert _in_time_wait(port)  # what made the next run's bind fail
    stop = start(port)  # the next run, at once, on the same port
    try:
        _connect_and_let_the_server_close_first(port)
    finally:
        stop()


def test_a_port_someone_listens_on_is_named_and_the_live_server_says_what_to_do() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        port = other.getsockname()[1]
        assert not ports.can_listen("127.0.0.1", port)
        with pytest.raises(ports.PortInUseError, match=rf"port {port} on 127\.0\.0\.1 .*DENTALTAP_TEST_PORT"):
            start_live_server(f"localhost:{port}", wait=0)
    assert ports.can_listen("127.0.0.1", port)


def test_the_ports_handed_out_never_repeat() -> None:
    handed_out = [ports.free_port() for _ in range(200)]
    assert len(set(handed_out)) == len(handed_out)


def _run_command(**env: str) -> subprocess.CompletedProcess[str]:
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DENTALTAP_", "STRIPE_")) and key not in ("DATABASE_URL", "REDIS_URL", "PORT")
    }
    return subprocess.run(
        [sys.executable, "-m", "dentaltap.devstack", "run"],
        cwd=ROOT,
        env={**inherited, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("variable", ["PORT", "DENTALTAP_STRIPE_STANDIN_PORT"])
def test_the_run_command_names_a_busy_port_and_starts_nothing(variable: str, tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        busy = str(other.getsockname()[1])
        free = {"PORT": str(ports.free_port()), "DENTALTAP_STRIPE_STANDIN_PORT": str(ports.free_port())}
        result = _run_command(**{**free, variable: busy, "DENTALTAP_DATA_DIR": str(tmp_path / "data")})
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"port {busy} on 127.0.0.1" in output and "is in use" in output, output
    assert variable in output and "Traceback" not in output, output
    assert not (tmp_path / "data" / "postgres").exists()  # nothing was started
