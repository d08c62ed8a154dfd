"""The request handler: the test hooks, idempotency and failure injection, and the routes."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from billing.standin.checkout_page import CheckoutPageMixin
from billing.standin.customers import customer_delete
from billing.standin.resources import ResourcesMixin
from billing.standin.wire import parse_form


class Handler(ResourcesMixin, CheckoutPageMixin):
    def do_GET(self) -> None:
        self._route("GET", "")

    def do_POST(self) -> None:
        self._route("POST", self._body())

    def do_DELETE(self) -> None:
        self._route("DELETE", "")

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
            ("DELETE", r"/v1/customers/(?P<customer>[\w]+)", lambda _, customer: customer_delete(self.state, customer)),
            ("POST", r"/v1/customers/(?P<customer>[\w]+)/balance_transactions", self._balance_create),
            ("GET", r"/v1/customers/(?P<customer>[\w]+)/balance_transactions", self._balance_list),
            ("POST", r"/v1/coupons", self._coupon_create),
            ("GET", r"/v1/coupons/(?P<coupon>[\w-]+)", self._coupon_retrieve),
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
