"""Helpers for reward programs' figures and points: a paid referral, its qualification, points
earned through a real points reward (the points ledger needs its source)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from billing.models import Payment
from referrals.models import Referral
from rewards import services as reward_services
from rewards.models import PointsEntry, PointsKind, Reward
from tenants.models import User
from tests.billing_support import Pair, default_rule_set


def referral_paid(make_practice: Callable[..., Pair], referrer: User, name: str, amount: int = 9900) -> Payment:
    """A practice `name` referred by `referrer` (eligible), with a standing payment now."""
    user, practice = make_practice(name, schema=False)
    Referral.objects.create(
        referrer=referrer, referred_user=user, referred_practice=practice, source="link", eligibility="eligible"
    )
    return Payment.objects.create(
        stripe_invoice_id=f"in_{name}", practice=practice, stripe_customer_id=f"cus_{name}", amount_cents=amount,
        currency="usd", paid_at=timezone.now(),
    )  # fmt: skip


def qualify(payment: Payment) -> str:
    with transaction.atomic():
        return reward_services.referral_qualify(payment=payment)


def give_points(user: User, amount: int, make_practice: Callable[..., Pair]) -> None:
    """`amount` points earned by `user` through a points reward of the default program."""
    default_rule_set(structure="points", amount_cents=0, points=amount, hold_days=14)
    qualify(referral_paid(make_practice, user, f"source-{user.pk}-{Reward.objects.count()}"))
    reward = Reward.objects.filter(referrer=user).order_by("-pk").first()
    PointsEntry.objects.get_or_create(
        reward=reward, kind=PointsKind.REWARD, defaults={"user": user, "points": amount, "description": "+"}
    )
