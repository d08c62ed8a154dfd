"""Reads for the Billing page and API."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

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
