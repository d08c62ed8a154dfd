"""The development checkout page: its "Pay" button plays Stripe's part after a payment and
sends the events Stripe would, signed, to the app's webhook."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qsl

from billing.standin.plumbing import HandlerBase
from billing.standin.wire import card_details


class CheckoutPageMixin(HandlerBase):
    def _checkout_page(self, method: str, path: str, body: str = "") -> None:
        session_id = path.split("/")[2]
        session = self.state.sessions.get(session_id)
        if session is None:
            self._send(404, "<h1>No such checkout session</h1>", "text/html")
            return
        price = (session["line_items"] or [{}])[0].get("price", "")
        amount = amount_due(session, self.state.price_amounts.get(price, 4900))
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
        trial_days = (session.get("subscription_data") or {}).get("trial_period_days") or 0
        session.update(status="complete", payment_status="paid", subscription=subscription_id, invoice=invoice_id)
        subscription = {
            "id": subscription_id, "object": "subscription", "customer": session["customer"],
            "status": "trialing" if trial_days else "active",
            "trial_end": now + trial_days * 86400 if trial_days else None,
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
        if session.get("discounts"):
            invoice["discounts"] = [discount["coupon"]["id"] for discount in session["discounts"]]
        events: list[tuple[str, dict[str, Any]]] = [
            ("checkout.session.completed", session),
            ("customer.subscription.created", subscription),
        ]
        if amount > 0:  # a trial's first invoice is for nothing: no charge behind it
            events += [
                ("charge.succeeded", charge),
                ("invoice.paid", invoice),
                ("invoice_payment.paid", invoice_payment),
            ]
        else:
            events.append(("invoice.paid", invoice))
        for event_type, obj in events:
            self.server.send_event(event_type, obj)


def amount_due(session: dict[str, Any], price_amount: int) -> int:
    """The first invoice: nothing during a trial, else the price less the session's coupon."""
    if (session.get("subscription_data") or {}).get("trial_period_days"):
        return 0
    amount = price_amount
    for discount in session.get("discounts") or []:
        coupon = discount["coupon"]
        if coupon.get("percent_off"):
            amount -= round(amount * float(coupon["percent_off"]) / 100)
        elif coupon.get("amount_off"):
            amount -= int(coupon["amount_off"])
    return max(0, amount)
