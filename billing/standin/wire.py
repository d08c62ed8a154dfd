"""What the stand-in speaks: Stripe's form encoding, its webhook signature, card details."""

from __future__ import annotations

import hashlib
import re
import string
import time
from typing import Any
from urllib.parse import parse_qsl

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
