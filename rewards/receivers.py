"""Rewards' side of the hand-offs of the layers below (billing.handoffs, referrals.handoffs,
onboarding.hooks), registered once in rewards.apps. Each runs in the sender's transaction,
except the activation listener: onboarding calls it after commit, so it opens its own."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from billing import handoffs as billing_handoffs
from billing.handoffs import CardsRecorded, PaymentRecorded, PaymentRefunded, PaymentReversed
from billing.models import Payment
from onboarding import hooks as onboarding_hooks
from onboarding.hooks import MilestoneReached
from referrals import handoffs as referral_handoffs
from referrals import same_card
from referrals.handoffs import ReferralCreated, ReferralReviewed
from referrals.services import ReviewDecision
from rewards import conversions, selectors, services
from rewards.models import Reward, RewardStatus
from tenants.models import Practice


def on_payment_recorded(event: PaymentRecorded) -> str:
    """A referred practice's paid invoice qualifies its referral (the first one only), and may be
    its conversion (what the staff analytics count)."""
    conversions.payment_changed(practice_id=event.practice_id, paid_at=event.paid_at)
    return services.referral_qualify(payment=Payment.objects.get(pk=event.payment_id))


def on_payment_reversed(event: PaymentReversed) -> None:
    """The qualifying payment was refunded or disputed: cancel inside the hold, claw back after;
    the referral's conversion moves to the next standing payment, if any."""
    paid_at = Payment.objects.values_list("paid_at", flat=True).get(pk=event.payment_id)
    conversions.payment_changed(practice_id=event.practice_id, paid_at=paid_at)
    # Percentage rewards shrink in proportion instead (payment_refunded, sent before this one).
    for reward in Reward.objects.select_for_update().filter(qualifying_payment_id=event.payment_id, basis_points=0):
        services.reward_reverse(reward=reward, reason=event.reason)


def on_payment_refunded(event: PaymentRefunded) -> None:
    """Part of a payment was refunded or disputed: percentage rewards on it shrink in proportion."""
    services.reward_refunded(payment_id=event.payment_id)


def on_referral_created(event: ReferralCreated) -> str:
    """A referral was recorded: what its program pays for a signup."""
    return services.referral_signed_up(referral_id=event.referral_id)


def on_practice_activated(event: MilestoneReached) -> None:
    """A referred practice activated: what its program pays for activation. Onboarding calls this
    after commit, outside any transaction, and its beat job tells it again if it failed or was
    never told; one reward per (rule, referral, occurrence, recipient) makes a repeat a no-op."""
    with transaction.atomic():
        services.referral_activated(referred_practice_id=event.practice_id)


def on_cards_recorded(event: CardsRecorded) -> str:
    """A new card may be the referrer's: the same-card rule, and a hold on a reward still waiting."""
    practice = Practice.objects.get(pk=event.practice_id)
    held = [
        services.reward_hold_for_new_signal(referral_id=referral.pk)
        for referral in same_card.referrals_touching(practice=practice)
        if same_card.same_card_flag(referral=referral)
    ]
    return f"same card as the referrer's practice on {len(held)} referral(s)"


def on_referral_reviewed(event: ReferralReviewed) -> None:
    """Staff approved (a held reward is released) or rejected (a reward not yet credited is
    rejected) a flagged referral."""
    for reward in Reward.objects.filter(referral_id=event.referral_id).only("pk", "status"):
        _review_one(reward, event)


def _review_one(reward: Reward, event: ReferralReviewed) -> None:
    if event.decision == ReviewDecision.APPROVE and reward.status == RewardStatus.ON_HOLD:
        services.reward_review(reward_pk=reward.pk, decision="approve", actor=event.actor, note=event.note)
    elif event.decision == ReviewDecision.REJECT and reward.status in (
        RewardStatus.PENDING,
        RewardStatus.ON_HOLD,
        RewardStatus.FAILED,
    ):
        services.reward_review(
            reward_pk=reward.pk,
            decision="reject",
            actor=event.actor,
            note=event.note or _("Referral rejected by staff."),
        )


def register() -> None:
    billing_handoffs.payment_recorded.register(on_payment_recorded)
    billing_handoffs.payment_reversed.register(on_payment_reversed)
    billing_handoffs.payment_refunded.register(on_payment_refunded)
    billing_handoffs.cards_recorded.register(on_cards_recorded)
    billing_handoffs.reward_lines_reader_register(selectors.reward_lines_for_practice)
    referral_handoffs.referral_reviewed.register(on_referral_reviewed)
    referral_handoffs.referral_created.register(on_referral_created)
    onboarding_hooks.activation_listener_register(on_practice_activated)
