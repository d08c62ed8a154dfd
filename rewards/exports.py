"""CSV exports of the referral channel for staff: referrals and rewards created in a date range,
streamed from a server-side cursor in chunks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from billing.models import LedgerEntry
from referrals.models import Referral
from rewards.analytics import DateRange, has_paid
from rewards.models import Reward, RewardRecipient

# --------------------------------------------------------------------------- CSV exports

REFERRAL_COLUMNS = (
    "id", "created_at", "referrer_email", "referred_email", "referred_name", "source", "eligibility",
    "eligibility_reason", "eligibility_note", "signup_ip", "referred_practice", "paid", "reward_status",
    "reward_amount_cents", "reviewed_at",
)  # fmt: skip
REWARD_COLUMNS = (
    "id", "referral_id", "created_at", "referrer_email", "beneficiary_practice", "status", "amount_cents",
    "currency", "hold_until", "credited_at", "qualifying_invoice", "reason", "ledger_net_cents",
)  # fmt: skip


def referral_export_rows(*, period_range: DateRange) -> Iterator[tuple[Any, ...]]:
    """Referrals created in the range, streamed from a server-side cursor in chunks."""
    first_reward = Reward.objects.filter(referral_id=OuterRef("pk"), recipient=RewardRecipient.REFERRER).order_by("pk")

    rows = (
        Referral.objects.filter(created_at__gte=period_range.start_at, created_at__lt=period_range.end_before)
        .annotate(
            paid=ExpressionWrapper(has_paid(), output_field=BooleanField()),
            # The referrer's first reward (the first-payment one, under the default program).
            reward_status=Subquery(first_reward.values("status")[:1]),
            reward_amount_cents=Subquery(first_reward.values("amount_cents")[:1]),
        )
        .order_by("created_at", "pk")
        .values_list(
            "pk",
            "created_at",
            "referrer__email",
            "referred_user__email",
            "referred_user__full_name",
            "source",
            "eligibility",
            "eligibility_reason",
            "eligibility_note",
            "signup_ip",
            "referred_practice__slug",
            "paid",
            "reward_status",
            "reward_amount_cents",
            "reviewed_at",
        )
    )
    yield REFERRAL_COLUMNS
    yield from rows.iterator(chunk_size=2000)


def reward_export_rows(*, period_range: DateRange) -> Iterator[tuple[Any, ...]]:
    """Rewards created in the range with their ledger net (credits minus clawbacks)."""

    ledger_net = (
        LedgerEntry.objects.filter(reward=OuterRef("pk"))
        .order_by()
        .values("reward")
        .annotate(total=Sum("amount_cents"))
        .values("total")
    )
    rows = (
        Reward.objects.filter(created_at__gte=period_range.start_at, created_at__lt=period_range.end_before)
        .annotate(ledger_net=Coalesce(Subquery(ledger_net, output_field=IntegerField()), 0))
        .order_by("created_at", "pk")
        .values_list(
            "pk",
            "referral_id",
            "created_at",
            "referrer__email",
            "beneficiary_practice__slug",
            "status",
            "amount_cents",
            "currency",
            "hold_until",
            "credited_at",
            "qualifying_payment__stripe_invoice_id",
            "reason",
            "ledger_net",
        )
    )
    yield REWARD_COLUMNS
    yield from rows.iterator(chunk_size=2000)
