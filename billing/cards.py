"""The cards practices pay with, known by Stripe's card fingerprint, read from whatever Stripe
reports: a charge's `payment_method_details.card`, a payment method's `card`, and those objects
when a payment intent or an invoice carries them expanded. The same-card rule that uses them
(a referred practice paying with its referrer's card) is referrals.same_card; billing hands new
cards up through billing.handoffs.cards_recorded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from billing.models import PaymentCard
from tenants.models import Practice

FINGERPRINT = re.compile(r"[A-Za-z0-9]{1,64}")
# Where a Stripe object may carry another one, expanded, that carries the card.
_NESTED = ("charge", "latest_charge", "payment_intent", "payment_method", "payment", "source")
_NESTED_LISTS = ("charges", "payments")


@dataclass(frozen=True)
class SeenCard:
    fingerprint: str
    brand: str
    last4: str
    seen_on: str


def _card_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    details = obj.get("payment_method_details")
    if isinstance(details, dict) and isinstance(details.get("card"), dict):
        return details["card"]  # a charge
    if obj.get("object") == "payment_method" and isinstance(obj.get("card"), dict):
        return obj["card"]
    if obj.get("object") == "card":  # a legacy card source
        return obj
    return None


def cards_in(obj: Any, depth: int = 0) -> list[SeenCard]:
    """The cards a Stripe object (or the objects expanded inside it) reports."""
    if depth > 3 or not isinstance(obj, dict):
        return []
    found = []
    card = _card_of(obj)
    fingerprint = card.get("fingerprint") if card else None
    if card is not None and isinstance(fingerprint, str) and FINGERPRINT.fullmatch(fingerprint):
        seen_on = obj.get("id")
        found.append(
            SeenCard(
                fingerprint=fingerprint,
                brand=str(card.get("brand") or "")[:20],
                last4=str(card.get("last4") or "")[:4],
                seen_on=seen_on[:100] if isinstance(seen_on, str) else "",
            )
        )
    for key in _NESTED:
        found += cards_in(obj.get(key), depth + 1)
    for key in _NESTED_LISTS:
        listing = obj.get(key)
        if isinstance(listing, dict) and isinstance(listing.get("data"), list):
            for item in listing["data"][:10]:
                found += cards_in(item, depth + 1)
    return found


def cards_record(*, practice: Practice, cards: list[SeenCard]) -> int:
    """Remember the practice's cards (one row per practice and card). Returns how many were new."""
    known = set(PaymentCard.objects.filter(practice=practice).values_list("fingerprint", flat=True))
    new = {card.fingerprint: card for card in cards if card.fingerprint not in known}
    PaymentCard.objects.bulk_create(
        [
            PaymentCard(
                practice=practice, fingerprint=card.fingerprint, brand=card.brand, last4=card.last4,
                first_seen_on=card.seen_on,
            )
            for card in new.values()
        ],
        ignore_conflicts=True,  # a concurrent report of the same card loses quietly
    )  # fmt: skip
    return len(new)
