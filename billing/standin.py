"""A small local stand-in for the parts of Stripe's API that DentalTap calls.

There is no network to Stripe here. The official SDK talks HTTP to this server instead (its
`api` base address), so tests and the dev stack exercise the real SDK, real requests and real
idempotency keys. `localstripe` (PyPI) was considered: it has no Checkout Sessions, no customer
balance transactions and ignores Idempotency-Key, which are exactly what the reward flow needs.

Covered: customers (create, retrieve), customer balance transactions (create, list), Checkout
Sessions (create) with a click-through checkout page, Billing Portal sessions (create). Writes
honour `Idempotency-Key` as Stripe does: the same key returns the first response again.

For development, the checkout page's "Pay" button plays Stripe's part after a payment: it sends
`checkout.session.completed`, `customer.subscription.created`, `charge.succeeded` (with the card's
fingerprint, the same for the same card number), `invoice.paid` and `invoice_payment.paid`,
signed with the webhook secret, to the app's webhook endpoint.

Test hooks (not Stripe's): GET /_requests lists what was received, each with its outcome
(`applied`, `replayed`, `in_flight`, `failed`, `read`, and `response_lost`); POST /_fail makes the
next N writes fail with a given status before anything is applied; POST /_lose_response makes
the next N writes go through (applied, or replayed for a key already used) and then loses their
answer on the way back, as a timeout or a proxy error does: the caller sees `status` (default
500) or, with `"drop": true`, a connection closed without a response. The stored result under
the idempotency key is the real one, so a retry with the same key gets the first answer back.

    python -m billing.standin --port 12111 --webhook-url http://dentaltap.localhost:8000/stripe/webhook/
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import re
import secrets
import string
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe


def parse_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`) into nested dicts and lists."""
    result: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = result
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if isinstance(node, list):
                position = int(part)
                while len(node) <= position:
                    node.append({})
                if last:
                    node[position] = value
                else:
                    node = node[position]
                continue
            if last:
                node[part] = value
            else:
                following = parts[index + 1]
                node = node.setdefault(part, [] if following.isdigit() else {})
    return result


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header value, computed by the stripe SDK's own signing helper."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = stripe.WebhookSignature._compute_signature(f"{timestamp}.{payload}", secret)
    return f"t={timestamp},v1={signature}"


def card_details(card_number: str) -> dict[str, Any]:
    """`payment_method_details.card` for a card number, with a Stripe-like fingerprint: 16
    letters and digits, the same for the same number."""
    digest = hashlib.sha256(f"dentaltap-standin:{card_number}".encode()).digest()
    alphabet = string.ascii_letters + string.digits
    fingerprint = "".join(alphabet[byte % len(alphabet)] for byte in digest[:16])
    brand = "visa" if card_number.startswith("4") else "mastercard" if card_number.startswith("5") else "unknown"
    return {
        "brand": brand, "last4": card_number[-4:], "fingerprint": fingerprint, "exp_month": 12, "exp_year": 2030,
        "country": "US", "funding": "credit", "checks": {"cvc_check": "pass"},
    }  # fmt: skip


class StandinState:
    def __init__(
        self,
        webhook_url: str = "",
        webhook_secret: str = "",
        price_amounts: dict[str, int] | None = None,
        webhook_host: str = "",
    ):
        self.webhook_host = webhook_host
        self.lock = threading.Lock()
        self.customers: dict[str, dict[str, Any]] = {}
        self.balance_transactions: dict[str, list[dict[str, Any]]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.idempotent: dict[str, tuple[int, dict[str, Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        self.fail_status = 500
        self.lose_next = 0
        self.lose_status = 500
        self.lose_by_dropping = False
        self.delay_next = 0
        self.delay_seconds = 0.0
        self.in_flight: set[str] = set()
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.price_amounts = price_amounts or {}
        self.ids = itertools.count(1)
        self.base_url = ""

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_standin{next(self.ids):06d}{secrets.token_hex(4)}"


class Handler(BaseHTTPRequestHandler):
    server: StandinServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    # ------------------------------------------------------------------ plumbing

    def _send(
        self,
        status: int,
        body: dict[str, Any] | str,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        raw = (json.dumps(body) if isinstance(body, dict) else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Request-Id", f"req_{secrets.token_hex(8)}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _error(self, status: int, message: str, error_type: str = "invalid_request_error") -> None:
        self._send(status, {"error": {"type": error_type, "message": message}})

    def _body(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode() if length else ""

    @property
    def state(self) -> StandinState:
        return self.server.state

    def do_GET(self) -> None:
        self._route("GET", "")

    def do_POST(self) -> None:
        self._route("POST", self._body())

    def _test_hook(self, method: str, path: str, body: str) -> bool:
        """The stand-in's own controls for tests; True when `path` was one."""
        if path == "/_requests" and method == "GET":
            with self.state.lock:
                self._send(200, {"data": list(self.state.requests)})
            return True
        if method != "POST" or path not in ("/_delay", "/_lose_response", "/_fail"):
            return False
        options = json.loads(body or "{}")
        with self.state.lock:
            if path == "/_delay":
                self.state.delay_next = int(options.get("count", 1))
                self.state.delay_seconds = float(options.get("seconds", 5))
            elif path == "/_lose_response":
                self.state.lose_next = int(options.get("count", 1))
                self.state.lose_status = int(options.get("status", 500))
                self.state.lose_by_dropping = bool(options.get("drop", False))
            else:
                self.state.fail_next = int(options.get("count", 1))
                self.state.fail_status = int(options.get("status", 500))
        self._send(200, {"ok": True})
        return True

    def _route(self, method: str, body: str) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        if self._test_hook(method, path, body):
            return
        if path.startswith("/checkout/"):
            self._checkout_page(method, path, body)
            return
        if not path.startswith("/v1/"):
            self._error(404, f"Unrecognized request URL ({method}: {path}).")
            return
        if not (self.headers.get("Authorization") or "").startswith("Bearer sk_"):
            self._error(401, "Invalid API Key provided.", "authentication_error")
            return
        self._api(method, path, body)

    def _api(self, method: str, path: str, body: str) -> None:
        params = parse_form(body) if method == "POST" else dict(parse_qsl(urlsplit(self.path).query))
        key = self.headers.get("Idempotency-Key", "")
        entry: dict[str, Any] = {"method": method, "path": path, "idempotency_key": key, "params": params}
        with self.state.lock:
            self.state.requests.append(entry)
            if method == "POST" and key and key in self.state.in_flight:
                entry["outcome"] = "in_flight"
                message = "A request with this key is in progress."
                self._send(409, {"error": {"type": "idempotency_error", "message": message}})
                return
            delay = 0.0
            if method == "POST" and self.state.delay_next > 0:
                self.state.delay_next -= 1
                delay = self.state.delay_seconds
                self.state.in_flight.add(key)
        if delay:  # a slow Stripe: the caller may die waiting; the request completes regardless
            time.sleep(delay)
        with self.state.lock:
            self.state.in_flight.discard(key)
            headers: dict[str, str] = {}
            if method == "POST" and key and key in self.state.idempotent:
                status, response = self.state.idempotent[key]
                entry["outcome"], headers = "replayed", {"Idempotent-Replayed": "true"}
            elif method == "POST" and self.state.fail_next > 0:
                self.state.fail_next -= 1
                entry["outcome"] = "failed"
                self._error(self.state.fail_status, "Stand-in: injected failure.", "api_error")
                return
            else:
                status, response = self._dispatch(method, path, params)
                entry["outcome"] = ("applied" if status < 400 else "refused") if method == "POST" else "read"
                if method == "POST" and key and status < 500:
                    self.state.idempotent[key] = (status, response)
            lost, drop, lost_status = method == "POST" and self.state.lose_next > 0, False, 500
            if lost:
                self.state.lose_next -= 1
                entry["response_lost"] = True
                drop, lost_status = self.state.lose_by_dropping, self.state.lose_status
        if lost and drop:  # the connection goes away before any answer
            self.close_connection = True
            return
        if lost:
            self._error(lost_status, "Stand-in: the answer was lost on the way back.", "api_error")
            return
        self._send(status, response, headers=headers)

    # ------------------------------------------------------------------ resources

    def _dispatch(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        routes: list[tuple[str, str, Callable[..., tuple[int, dict[str, Any]]]]] = [
            ("POST", r"/v1/customers", self._customer_create),
            ("GET", r"/v1/customers/(?P<customer>[\w]+)", self._customer_retrieve),
            ("POST", r"/v1/customers/(?P<customer>[\w]+)/balance_transactions", self._balance_create),
            ("GET", r"/v1/customers/(?P<customer>[\w]+)/balance_transactions", self._balance_list),
            ("POST", r"/v1/checkout/sessions", self._checkout_create),
            ("POST", r"/v1/billing_portal/sessions", self._portal_create),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                return handler(params, **match.groupdict())
        return 404, {
            "error": {"type": "invalid_request_error", "message": f"Unrecognized request URL ({method}: {path})."}
        }

    def _customer_create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        customer = {
            "id": self.state.new_id("cus"), "object": "customer", "balance": 0, "created": int(time.time()),
            "currency": None, "email": params.get("email"), "name": params.get("name"),
            "metadata": params.get("metadata", {}), "livemode": False,
        }  # fmt: skip
        self.state.customers[customer["id"]] = customer
        self.state.balance_transactions[customer["id"]] = []
        return 200, customer

    def _customer_retrieve(self, params: dict[str, Any], customer: str) -> tuple[int, dict[str, Any]]:
        if customer not in self.state.customers:
            return 404, {
                "error": {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "message": f"No such customer: '{customer}'",
                }
            }
        return 200, self.state.customers[customer]

    def _balance_create(self, params: dict[str, Any], customer: str) -> tuple[int, dict[str, Any]]:
        if customer not in self.state.customers:
            return self._customer_retrieve(params, customer)
        try:
            amount = int(params["amount"])
        except (KeyError, ValueError):
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "param": "amount",
                    "message": "Missing required param: amount.",
                }
            }
        record = self.state.customers[customer]
        record["balance"] += amount
        record["currency"] = record["currency"] or params.get("currency", "usd")
        transaction = {
            "id": self.state.new_id("cbtxn"), "object": "customer_balance_transaction", "amount": amount,
            "currency": params.get("currency", "usd"), "customer": customer, "created": int(time.time()),
            "description": params.get("description"), "ending_balance": record["balance"],
            "metadata": params.get("metadata", {}), "type": "adjustment", "livemode": False,
            "invoice": None, "credit_note": None,
        }  # fmt: skip
        self.state.balance_transactions[customer].append(transaction)
        return 200, transaction

    def _balance_list(self, params: dict[str, Any], customer: str) -> tuple[int, dict[str, Any]]:
        data = list(reversed(self.state.balance_transactions.get(customer, [])))
        return 200, {
            "object": "list",
            "data": data,
            "has_more": False,
            "url": f"/v1/customers/{customer}/balance_transactions",
        }

    def _checkout_create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        session_id = self.state.new_id("cs_test")
        session = {
            "id": session_id, "object": "checkout.session", "mode": params.get("mode"),
            "customer": params.get("customer"), "client_reference_id": params.get("client_reference_id"),
            "line_items": params.get("line_items", []), "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"), "status": "open", "payment_status": "unpaid",
            "url": f"{self.state.base_url}/checkout/{session_id}", "livemode": False, "created": int(time.time()),
            "metadata": params.get("metadata", {}),
        }  # fmt: skip
        self.state.sessions[session_id] = session
        return 200, session

    def _portal_create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {
            "id": self.state.new_id("bps"), "object": "billing_portal.session", "customer": params.get("customer"),
            "return_url": params.get("return_url"), "url": params.get("return_url") or self.state.base_url,
            "livemode": False, "created": int(time.time()),
        }  # fmt: skip

    # ------------------------------------------------------------------ dev checkout page

    def _checkout_page(self, method: str, path: str, body: str = "") -> None:
        session_id = path.split("/")[2]
        session = self.state.sessions.get(session_id)
        if session is None:
            self._send(404, "<h1>No such checkout session</h1>", "text/html")
            return
        price = (session["line_items"] or [{}])[0].get("price", "")
        amount = self.state.price_amounts.get(price, 4900)
        if method == "GET":
            # A different test card for each checkout, so two practices paying in the demo do not
            # share one by accident; type another practice's number to see the same-card rule.
            default_card = f"4242 4242 {int(session_id[-8:], 16) % 10**8:08d}"
            page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Checkout (stand-in)</title></head>
<body style="font-family:sans-serif;max-width:28rem;margin:4rem auto">
<h1>Stripe Checkout (local stand-in)</h1><p>Subscription: <b>{price}</b>, {amount / 100:.2f} USD / month</p>
<form method="post" action="/checkout/{session_id}/pay">
<p><label>Card number <input name="card" value="{default_card}" size="22" autocomplete="off"></label></p>
<button type="submit" style="font-size:1.2rem">Pay</button></form>
<p><a href="{session["cancel_url"]}">Cancel</a></p></body></html>"""
            self._send(200, page, "text/html; charset=utf-8")
            return
        card_number = re.sub(r"\D", "", dict(parse_qsl(body)).get("card", "")) or "4242424242424242"
        self._complete_checkout(session, price, amount, card_number)
        self.send_response(303)
        self.send_header("Location", session["success_url"])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _complete_checkout(
        self, session: dict[str, Any], price: str, amount: int, card_number: str = "4242424242424242"
    ) -> None:
        now = int(time.time())
        subscription_id, invoice_id = self.state.new_id("sub"), self.state.new_id("in")
        charge_id, intent_id = self.state.new_id("ch"), self.state.new_id("pi")
        session.update(status="complete", payment_status="paid", subscription=subscription_id, invoice=invoice_id)
        subscription = {
            "id": subscription_id, "object": "subscription", "customer": session["customer"], "status": "active",
            "metadata": {"practice_id": session["client_reference_id"]}, "livemode": False, "created": now,
            "items": {"object": "list", "data": [
                {"price": {"id": price, "object": "price"}, "current_period_end": now + 30 * 86400},
            ]},
        }  # fmt: skip
        invoice = {
            "id": invoice_id, "object": "invoice", "customer": session["customer"], "status": "paid",
            "amount_paid": amount, "currency": "usd", "livemode": False, "created": now,
            "billing_reason": "subscription_create", "number": f"DT-{invoice_id[-6:].upper()}",
            "hosted_invoice_url": f"{self.state.base_url}/invoices/{invoice_id}",
            "status_transitions": {"paid_at": now},
        }  # fmt: skip
        # As API versions since 2025-03-31 do: the charge behind an invoice comes in its own event.
        invoice_payment = {
            "id": self.state.new_id("inpay"), "object": "invoice_payment", "invoice": invoice_id,
            "amount_paid": amount, "currency": "usd", "status": "paid", "is_default": True, "livemode": False,
            "payment": {"type": "payment_intent", "payment_intent": intent_id, "charge": charge_id},
            "created": now,
        }  # fmt: skip
        # The charge, shaped like Stripe's: the card's fingerprint is the same for the same number
        # across all customers of this (stand-in) account, as at Stripe.
        charge = {
            "id": charge_id, "object": "charge", "amount": amount, "amount_captured": amount, "amount_refunded": 0,
            "currency": "usd", "customer": session["customer"], "invoice": invoice_id, "payment_intent": intent_id,
            "paid": True, "captured": True, "refunded": False, "status": "succeeded", "livemode": False,
            "created": now, "payment_method": self.state.new_id("pm"),
            "payment_method_details": {"type": "card", "card": card_details(card_number)},
        }  # fmt: skip
        for event_type, obj in (
            ("checkout.session.completed", session),
            ("customer.subscription.created", subscription),
            ("charge.succeeded", charge),
            ("invoice.paid", invoice),
            ("invoice_payment.paid", invoice_payment),
        ):
            self.server.send_event(event_type, obj)


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


def serve(host: str, port: int, state: StandinState) -> StandinServer:
    server = StandinServer((host, port), state)
    threading.Thread(target=server.serve_forever, name="stripe-standin", daemon=True).start()
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
    server = StandinServer(
        (options.host, options.port),
        StandinState(options.webhook_url, options.webhook_secret, prices, options.webhook_host),
    )
    print(f"[stripe stand-in] listening on {server.state.base_url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
