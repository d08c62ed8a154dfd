"""Reads for the Billing page and API."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy

from billing import handoffs
from billing.models import LedgerEntry, Payment, PracticeAccount
from billing.services.payments import credit_balance_cents

SUBSCRIPTION_STATUS_LABELS = {
    "active": gettext_lazy("active"),
    "trialing": gettext_lazy("trial"),
    "past_due": gettext_lazy("payment overdue"),
    "unpaid": gettext_lazy("unpaid"),
    "incomplete": gettext_lazy("waiting for the first payment"),
    "incomplete_expired": gettext_lazy("first payment failed"),
    "canceled": gettext_lazy("cancelled"),
    "paused": gettext_lazy("paused"),
}


def subscription_status_label(status: str) -> str:
    """Stripe's subscription status in the customer's words (an unknown one is not shown)."""
    label = SUBSCRIPTION_STATUS_LABELS.get(status)
    return str(label) if label else ""


@dataclass(frozen=True)
class BillingSummary:
    """What the Billing page and `GET /api/billing/` show: one read for both."""

    account: PracticeAccount
    credit_balance_cents: int
    ledger: list[LedgerEntry]
    payments: list[Payment]
    reward_lines: list[handoffs.RewardLine]


def billing_summary(*, account: PracticeAccount, limit: int) -> BillingSummary:
    """The practice's plan, credit balance and its latest `limit` ledger entries, payments and
    rewards (the rewards come through the hand-off the rewards app registers). The account is
    the caller's (`services.account_for`, which may create it): this only reads."""
    practice = account.practice
    return BillingSummary(
        account=account,
        credit_balance_cents=credit_balance_cents(practice=practice),
        ledger=list(LedgerEntry.objects.filter(practice=practice)[:limit]),
        payments=list(Payment.objects.filter(practice=practice)[:limit]),
        reward_lines=handoffs.reward_lines(practice=practice, limit=limit),
    )
