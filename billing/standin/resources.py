"""Stripe's resources as the stand-in keeps them: customers, customer balance transactions,
coupons, Checkout Sessions (with `discounts` and a subscription trial) and Billing Portal
sessions."""

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

    def _coupon_create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Coupons as Stripe takes them: an id (or one is made), `percent_off` or `amount_off`
        (with a currency), a duration."""
        percent, amount = params.get("percent_off"), params.get("amount_off")
        if (percent is None) == (amount is None):
            return _invalid("percent_off", "Provide exactly one of percent_off or amount_off.")
        try:
            percent_value = float(percent) if percent is not None else None
            amount_value = int(amount) if amount is not None else None
        except ValueError:
            return _invalid("percent_off" if percent is not None else "amount_off", "Invalid number.")
        if percent_value is not None and not 0 < percent_value <= 100:
            return _invalid("percent_off", "percent_off must be between 0 and 100.")
        if amount_value is not None and amount_value <= 0:
            return _invalid("amount_off", "amount_off must be positive.")
        coupon_id = params.get("id") or self.state.new_id("coupon")
        if coupon_id in self.state.coupons:
            return _invalid("id", "Coupon already exists.")
        coupon = {
            "id": coupon_id, "object": "coupon", "percent_off": percent_value, "amount_off": amount_value,
            "currency": params.get("currency") if amount_value else None, "duration": params.get("duration", "once"),
            "name": params.get("name"), "valid": True, "livemode": False, "created": int(time.time()),
            "metadata": params.get("metadata", {}),
        }  # fmt: skip
        self.state.coupons[coupon_id] = coupon
        return 200, coupon

    def _coupon_retrieve(self, params: dict[str, Any], coupon: str) -> tuple[int, dict[str, Any]]:
        if coupon not in self.state.coupons:
            return 404, {
                "error": {"type": "invalid_request_error", "code": "resource_missing", "param": "coupon",
                          "message": f"No such coupon: '{coupon}'"}
            }  # fmt: skip
        return 200, self.state.coupons[coupon]

    def _checkout_discounts(self, params: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        """`discounts=[{"coupon": id}]`: at most one, of a coupon that exists (as at Stripe)."""
        discounts = params.get("discounts") or []
        if not isinstance(discounts, list) or len(discounts) > 1:
            return [], "You may only specify one discount."
        for discount in discounts:
            coupon = discount.get("coupon", "") if isinstance(discount, dict) else ""
            if coupon not in self.state.coupons:
                return [], f"No such coupon: '{coupon}'"
        return [{"coupon": self.state.coupons[d["coupon"]]} for d in discounts], ""

    def _checkout_create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        discounts, problem = self._checkout_discounts(params)
        if problem:
            return _invalid("discounts", problem)
        subscription_data = params.get("subscription_data") or {}
        trial = subscription_data.get("trial_period_days")
        if trial is not None and (not str(trial).isdigit() or not 1 <= int(trial) <= 730):
            return _invalid("subscription_data[trial_period_days]", "trial_period_days must be 1 to 730.")
        session_id = self.state.new_id("cs_test")
        session = {
            "id": session_id, "object": "checkout.session", "mode": params.get("mode"),
            "customer": params.get("customer"), "client_reference_id": params.get("client_reference_id"),
            "line_items": params.get("line_items", []), "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"), "status": "open", "payment_status": "unpaid",
            "url": f"{self.state.base_url}/checkout/{session_id}", "livemode": False, "created": int(time.time()),
            "metadata": params.get("metadata", {}), "discounts": discounts,
            "subscription_data": {"trial_period_days": int(trial) if trial is not None else None},
        }  # fmt: skip
        self.state.sessions[session_id] = session
        return 200, session

    def _portal_create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {
            "id": self.state.new_id("bps"), "object": "billing_portal.session", "customer": params.get("customer"),
            "return_url": params.get("return_url"), "url": params.get("return_url") or self.state.base_url,
            "livemode": False, "created": int(time.time()),
        }  # fmt: skip


def _invalid(param: str, message: str) -> tuple[int, dict[str, Any]]:
    return 400, {"error": {"type": "invalid_request_error", "param": param, "message": message}}
