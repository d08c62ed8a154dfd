"""The same-card rule: a referred practice paying with the card of its referrer's practice is the
strongest self-referral sign Stripe gives (docs/staff.md). Cards are known by Stripe's card
fingerprint, read from whatever Stripe reports: a charge's `payment_method_details.card`, a
payment method's `card`, and those objects when a payment intent or an invoice carries them
expanded. Either practice may pay first, and the card may be reported before or after the
invoice, so the rule is checked whenever a card is recorded and again when a reward is created
and when it is about to be credited."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from billing.models import PaymentCard
from referrals import risk
from referrals.models import Referral
from referrals.services import referral_risk_signal_add
from tenants.models import Membership, Practice, Role

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


def _owned_practice_ids(user_id: int) -> QuerySet[Membership, int]:
    return Membership.objects.filter(user_id=user_id, role=Role.OWNER).values_list("practice_id", flat=True)


def shared_card(referral: Referral) -> PaymentCard | None:
    """A card the referred practice paid with that one of the referrer's own practices did too."""
    if referral.referred_practice_id is None:
        return None
    referrer_cards = PaymentCard.objects.filter(practice_id__in=_owned_practice_ids(referral.referrer_id)).exclude(
        practice_id=referral.referred_practice_id
    )
    return (
        PaymentCard.objects.filter(
            practice_id=referral.referred_practice_id, fingerprint__in=referrer_cards.values("fingerprint")
        )
        .order_by("first_seen_at")
        .first()
    )


def same_card_flag(*, referral: Referral) -> bool:
    """Record the same-card signal on the referral when its practices share a card. True when
    that is news (the signal was not recorded before): a reward still waiting must then be held."""
    card = shared_card(referral)
    if card is None:
        return False
    _referral, is_new = referral_risk_signal_add(referral_id=referral.pk, signal=risk.same_card_signal(card=card.label))
    return is_new


def referrals_touching(*, practice: Practice) -> QuerySet[Referral]:
    """Referrals a new card of `practice` may concern: the one that brought it, and those its
    owners made."""
    owners = Membership.objects.filter(practice=practice, role=Role.OWNER).values("user_id")
    return Referral.objects.filter(
        Q(referred_practice=practice) | Q(referrer_id__in=owners, referred_practice__isnull=False)
    )
