"""The suite's live server (`live_server`, for the browser tests): pytest-django's, on
DENTALTAP_TEST_PORT (DJANGO_LIVE_TEST_SERVER_ADDRESS, dentaltap/settings/test.py), except that it
binds with SO_REUSEADDR.

Django's LiveServerThread binds without it (`allow_reuse_address=False`), so a run started
within a minute of another on the same fixed port failed its first live-server test with
"Address already in use": the previous run's server closed its connections first, and they
linger in TIME_WAIT. With SO_REUSEADDR only a listening socket keeps the port, and then the
server waits a little for it (another run stopping) and fails naming the port.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler
from pytest_django.live_server_helper import LiveServer

from dentaltap.ports import wait_until_free

BUSY_PORT_WAIT_SECONDS = 10.0


class ReusableAddressLiveServerThread(LiveServerThread):
    def _create_server(self, connections_override: Any = None) -> ThreadedWSGIServer:
        return self.server_class(
            (self.host, self.port),
            QuietWSGIRequestHandler,
            allow_reuse_address=True,
            connections_override=connections_override,
        )


def start_live_server(address: str, *, wait: float = BUSY_PORT_WAIT_SECONDS) -> LiveServer:
    """pytest-django's LiveServer on `address` ("host:port"), with the thread above."""
    server = LiveServer(address, start=False)
    django_thread = server.thread
    server.thread = ReusableAddressLiveServerThread(
        django_thread.host,
        django_thread.static_handler,
        connections_override=django_thread.connections_override,
        port=django_thread.port,
    )
    server.thread.daemon = True
    if server.thread.port:
        wait_until_free(
            "127.0.0.1" if server.thread.host == "localhost" else server.thread.host,
            server.thread.port,
            what="the suite's live server",
            remedy="Another test run uses it: wait for it, or set DENTALTAP_TEST_PORT to another port.",
            timeout=wait,
        )
    server.start()
    return server


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """pytest-django's `live_server`, address and all, started by `start_live_server`."""
    address = request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    server = start_live_server(address)
    yield server
    server.stop()
