"""A real webhook receiver for the outbound-webhook tests: an http.server in a thread on
127.0.0.1, recording every request (path, headers, body) and answering from a script of status
codes (200 once the script is used up). `verify` checks a request's signature exactly as
docs/staff.md tells integrators to."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: list[int] = []
        self.delay_seconds = 0.0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                    status = receiver.script.pop(0) if receiver.script else 200
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                answer = f"status {status} from the test receiver".encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:  # the sender gave up waiting (a timeout test)
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # shutdown() waits for the loop to look again: every 20 ms, not the default 0.5 s per test.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify(request: Received, secret: str, tolerance_seconds: int = 300) -> bool:
    """The documented check: t and every v1 from DentalTap-Signature; HMAC-SHA256 of
    "<t>.<raw body>" with the secret; any v1 equal (constant time); t recent."""
    items = [part.split("=", 1) for part in request.headers["DentalTap-Signature"].split(",")]
    timestamp = next(value for key, value in items if key == "t")
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) <= tolerance_seconds
    return fresh and any(hmac.compare_digest(expected, value) for key, value in items if key == "v1")


def signatures(request: Received) -> list[str]:
    return [part[3:] for part in request.headers["DentalTap-Signature"].split(",") if part.startswith("v1=")]


@pytest.fixture
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    try:
        yield receiver
    finally:
        receiver.close()


# --------------------------------------------------------------------------- endpoints and events


def endpoint_for(receiver: Receiver, path: str = "/hooks", types: list[str] | None = None, **fields: Any) -> Any:
    from integrations.models import SUBSCRIBABLE_TYPES, WebhookEndpoint

    return WebhookEndpoint.objects.create(url=receiver.url(path), event_types=types or SUBSCRIBABLE_TYPES, **fields)


def points_reward_credited(make_practice: Callable[..., Any], name: str = "hooked") -> Any:
    """Through the real path: a referred practice pays, the (points) rule rewards the referrer,
    the credit lands on the points ledger and rewards hands `reward_earned` up. The reward."""
    from django.db import transaction
    from django.utils import timezone

    from billing.models import Payment
    from referrals.models import Referral
    from rewards import crediting
    from rewards import services as reward_services
    from rewards.models import Reward
    from tests.billing_support import default_rule_set

    referrer, _home = make_practice(f"{name}-referrer", schema=False)
    user, practice = make_practice(name, schema=False)
    default_rule_set(structure="points", amount_cents=0, points=1500, hold_days=0)
    Referral.objects.create(
        referrer=referrer, referred_user=user, referred_practice=practice, source="link", eligibility="eligible"
    )
    payment = Payment.objects.create(
        stripe_invoice_id=f"in_{name}",
        practice=practice,
        stripe_customer_id=f"cus_{name}",
        amount_cents=9900,
        currency="usd",
        paid_at=timezone.now(),
    )
    with transaction.atomic():
        reward_services.referral_qualify(payment=payment)
    reward = Reward.objects.get(referral__referred_practice=practice)
    crediting.reward_credit(reward_pk=reward.pk)
    return reward


def lock_waiters() -> int:
    """How many statements wait for a lock right now (pg_locks is read live, not from the
    transaction's snapshot): a test holding a row lock sees its threads queue behind it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return int(cursor.fetchone()[0])


def behind_a_held_lock(endpoint_id: int, *calls: Callable[[], Any]) -> list[Any]:
    """Run `calls` in threads (their own connections) while this test holds the endpoint's row
    lock, wait until all of them queue behind it, release it and return their results: work
    that would race, made to meet at the same row at the same moment."""
    from django.db import connection, transaction

    from integrations.models import WebhookEndpoint
    from tests.billing_support import wait_for

    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - handed to the test to assert on
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    with transaction.atomic():
        WebhookEndpoint.objects.select_for_update(no_key=True).get(pk=endpoint_id)
        for thread in threads:
            thread.start()
        assert wait_for(lambda: lock_waiters() >= len(calls)), "the threads never queued behind the lock"
    for thread in threads:
        thread.join(timeout=60)
    return results
