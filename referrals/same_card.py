"""The same-card rule: a referred practice paying with the card of its referrer's practice is the
strongest self-referral sign Stripe gives (docs/staff.md). Cards are billing's (PaymentCard,
recorded from what Stripe reports). Either practice may pay first, and the card may be reported
before or after the invoice, so the rule is checked whenever a card is recorded and again when
a reward is created and when it is about to be credited (rewards calls these)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from billing.models import PaymentCard
from referrals import risk
from referrals.models import Referral
from referrals.services import referral_risk_signal_add
from tenants.models import Membership, Practice, Role


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
