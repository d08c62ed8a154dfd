"""Stripe for tests: the local stand-in server, and events shaped like Stripe's own published
examples (tests/fixtures/stripe/objects.json, MIT licence beside it), signed with the stripe SDK's
helper."""

from __future__ import annotations

import copy
import itertools
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from billing import stripe_gateway
from billing.standin import StandinServer, StandinState, serve, sign

# Stripe's published example objects, copied into the repository with Stripe's licence.
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stripe" / "objects.json"
STRIPE_OBJECTS: dict[str, Any] = json.loads(FIXTURES.read_text())
SECRET = "whsec_test_current"
OLD_SECRET = "whsec_test_previous"
# How often the stand-in's loop looks for shutdown(): every test that uses it waited up to the
# default 0.5 s in its teardown.
SHUTDOWN_POLL_SECONDS = 0.02
_ids = itertools.count(1)


def stripe_object(kind: str, **changes: Any) -> dict[str, Any]:
    obj = copy.deepcopy(STRIPE_OBJECTS[kind])
    obj.update(changes)
    return obj


def event(
    event_type: str, obj: dict[str, Any], *, event_id: str | None = None, created: int | None = None
) -> dict[str, Any]:
    envelope = copy.deepcopy(STRIPE_OBJECTS["event"])
    envelope.update(
        id=event_id or f"evt_test_{next(_ids):06d}",
        type=event_type,
        created=created or int(time.time()),
        livemode=False,
        api_version="2025-06-30.basil",
        data={"object": obj},
    )
    return envelope


def invoice_paid(
    *,
    customer: str,
    invoice_id: str,
    amount: int = 4900,
    charge: str = "",
    event_type: str = "invoice.paid",
    **kwargs: Any,
) -> dict[str, Any]:
    invoice = stripe_object(
        "invoice",
        id=invoice_id,
        customer=customer,
        amount_paid=amount,
        amount_due=amount,
        status="paid",
        currency="usd",
        livemode=False,
        billing_reason="subscription_create",
        status_transitions={"paid_at": int(time.time()), "finalized_at": int(time.time())},
    )
    invoice["charge"] = charge or f"ch_for_{invoice_id}"
    return event(event_type, invoice, **kwargs)


def charge_refunded(*, charge: str, customer: str, amount: int = 4900, **kwargs: Any) -> dict[str, Any]:
    obj = stripe_object(
        "charge", id=charge, customer=customer, amount=amount, amount_refunded=amount, refunded=True, paid=True
    )
    return event("charge.refunded", obj, **kwargs)


def dispute_created(*, charge: str, dispute_id: str, amount: int = 4900, **kwargs: Any) -> dict[str, Any]:
    return event(
        "charge.dispute.created", stripe_object("dispute", id=dispute_id, charge=charge, amount=amount), **kwargs
    )


def signed(payload: dict[str, Any] | str, secret: str = SECRET, timestamp: int | None = None) -> tuple[bytes, str]:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return body.encode(), sign(body, secret, timestamp)


class Standin:
    def __init__(self, server: StandinServer) -> None:
        self.server = server
        self.url = server.state.base_url

    @property
    def state(self) -> StandinState:
        return self.server.state

    def requests(self, path_contains: str = "") -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/_requests") as response:  # noqa: S310 - loopback
            data = json.loads(response.read())["data"]
        return [request for request in data if path_contains in request["path"]]

    def balance_transactions(self, customer: str) -> list[dict[str, Any]]:
        return list(self.state.balance_transactions.get(customer, []))

    def fail_next(self, count: int, status: int = 500) -> None:
        """The next `count` writes fail before Stripe applies anything."""
        with self.state.lock:
            self.state.fail_next, self.state.fail_status = count, status

    def lose_next_responses(self, count: int, *, status: int = 500, drop: bool = False) -> None:
        """The next `count` writes go through at Stripe, then their answers are lost: the caller
        sees `status`, or (drop) a connection closed with no answer. Over HTTP, as a test would
        reach a real fault injector."""
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{self.url}/_lose_response",
            data=json.dumps({"count": count, "status": status, "drop": drop}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request) as response:  # noqa: S310
            assert response.status == 200

    def writes(self, path_contains: str) -> list[dict[str, Any]]:
        return [call for call in self.requests(path_contains) if call["method"] == "POST"]


@pytest.fixture
def stripe_standin(settings: Any) -> Iterator[Standin]:
    server = serve("127.0.0.1", 0, StandinState(), poll_interval=SHUTDOWN_POLL_SECONDS)
    settings.STRIPE_API_BASE = server.state.base_url
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET, OLD_SECRET]
    stripe_gateway._client.cache_clear()
    try:
        yield Standin(server)
    finally:
        server.shutdown()
        server.server_close()
        stripe_gateway._client.cache_clear()
