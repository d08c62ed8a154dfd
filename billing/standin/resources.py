"""Stripe's resources as the stand-in keeps them: customers, customer balance transactions,
Checkout Sessions and Billing Portal sessions."""

from __future__ import annotations

import time
from typing import Any

from billing.standin.plumbing import HandlerBase


class ResourcesMixin(HandlerBase):
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
