"""TCP ports for the dev stack, the tests and the benches: a free one from the OS, whether a
server could listen on one, and a clear error naming a busy one. Importable without Django.

Every server we own binds with SO_REUSEADDR (gunicorn, http.server, the suite's live server:
tests/live_server_support.py), so the connections of a server that just stopped, lingering in
TIME_WAIT for a minute, never make the next run's bind fail. Only a socket that listens does:
that is "in use", and `PortInUseError` says which port and what to do.
"""

from __future__ import annotations

import socket
import threading
import time

_handed_out: set[int] = set()
_lock = threading.Lock()


class PortInUseError(RuntimeError):
    def __init__(self, port: int | str, *, host: str = "127.0.0.1", what: str = "", remedy: str = "") -> None:
        self.port = int(port)
        for_what = f" (for {what})" if what else ""
        message = f"port {port} on {host}{for_what} is in use: another process listens on it."
        super().__init__(f"{message} {remedy or 'Stop that process, or choose another port.'}")


def can_listen(host: str, port: int | str) -> bool:
    """True when a server could listen on host:port now, binding as ours do (SO_REUSEADDR):
    connections in TIME_WAIT do not count, a listening socket does."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
            probe.listen(1)
        except OSError:
            return False
        return True


def wait_until_free(
    host: str, port: int | str, *, what: str = "", remedy: str = "", timeout: float = 0.0, interval: float = 0.2
) -> None:
    """Return once a server could listen on host:port; raise `PortInUseError` (naming the port)
    if it is still taken after `timeout` seconds (0: look once)."""
    deadline = time.monotonic() + timeout
    while not can_listen(host, port):
        if time.monotonic() >= deadline:
            raise PortInUseError(port, host=host, what=what, remedy=remedy)
        time.sleep(interval)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on, chosen by the OS, and never one this process handed out before:
    two fixtures (the web server and the Stripe stand-in of one test) never get the same one."""
    with _lock:
        while True:
            with socket.socket() as probe:
                probe.bind((host, 0))
                port = int(probe.getsockname()[1])
            if port not in _handed_out:
                _handed_out.add(port)
                return port
