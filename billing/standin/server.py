"""The server: a threading HTTP server with the state, the webhook sender and the command line."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import threading
import time
import urllib.request
from http.server import ThreadingHTTPServer
from typing import Any

from billing.standin.handler import Handler
from billing.standin.state import StandinState
from billing.standin.wire import sign
from dentaltap.ports import PortInUseError


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: StandinState) -> None:
        super().__init__(address, Handler)
        self.state = state
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else str(host)
        state.base_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"  # noqa: S104

    def send_event(self, event_type: str, obj: dict[str, Any]) -> None:
        if not self.state.webhook_url:
            return
        event = {
            "id": self.state.new_id("evt"), "object": "event", "api_version": "2025-06-30.basil",
            "created": int(time.time()), "type": event_type, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "data": {"object": obj},
        }  # fmt: skip
        payload = json.dumps(event)
        request = urllib.request.Request(  # noqa: S310 - the configured local webhook URL
            self.state.webhook_url,
            data=payload.encode(),
            headers={"Content-Type": "application/json", "Stripe-Signature": sign(payload, self.state.webhook_secret)},
        )
        if self.state.webhook_host:  # reach the app on loopback under its public host name
            request.add_header("Host", self.state.webhook_host)
        try:
            with urllib.request.urlopen(request, timeout=10):  # noqa: S310
                pass
        except OSError as error:
            print(f"[stripe stand-in] webhook {event_type} failed: {error}", flush=True)


def serve(host: str, port: int, state: StandinState, *, poll_interval: float = 0.5) -> StandinServer:
    """The stand-in in a thread of this process. `shutdown()` waits for the loop to look again,
    up to `poll_interval` seconds: the suite, which starts and stops one per test, looks often."""
    server = StandinServer((host, port), state)
    thread = threading.Thread(target=server.serve_forever, args=(poll_interval,), name="stripe-standin", daemon=True)
    thread.start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url", default="")
    parser.add_argument("--webhook-secret", default="")
    parser.add_argument("--webhook-host", default="", help="Host header for webhook requests")
    parser.add_argument("--price", action="append", default=[], help="price_id=amount_cents, repeatable")
    options = parser.parse_args()
    prices = {item.split("=")[0]: int(item.split("=")[1]) for item in options.price}
    try:
        server = StandinServer(
            (options.host, options.port),
            StandinState(options.webhook_url, options.webhook_secret, prices, options.webhook_host),
        )
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        busy = PortInUseError(options.port, host=options.host, what="the Stripe stand-in")
        raise SystemExit(f"[stripe stand-in] {busy}") from None
    print(f"[stripe stand-in] listening on {server.state.base_url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
