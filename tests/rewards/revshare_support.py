"""Helpers for the revenue-share tests: an affiliate program (40% of every paid invoice for N
months, paid in cash) with the referrer put under it by an override, and invoices paid on a
chosen day."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from rewards.models import ProgramOverride, ReferralProgram, RewardRule
from tenants.models import User
from tests.stripe_helpers import invoice_paid

REVENUE_SHARE = {
    "name": "40% of every invoice for 12 months",
    "trigger": "paid_invoice",
    "recipient": "referrer",
    "structure": "percent",
    "basis_points": 4000,
    "duration": "months",
    "duration_months": 12,
    "hold_days": 0,
    "cap_period": "lifetime",
    "payout": "cash",
}


def affiliate_program(referrer: User, **rule: Any) -> RewardRule:
    program = ReferralProgram.objects.create(
        name="Affiliates", starts_at=timezone.now() - datetime.timedelta(days=3650)
    )
    ProgramOverride.objects.create(referrer=referrer, program=program, note="affiliate")
    return RewardRule.objects.create(program=program, **{**REVENUE_SHARE, **rule})


def paid_on(days_ago: int, *, invoice_id: str, amount: int = 9900, charge: str = "", **kwargs: Any) -> dict[str, Any]:
    event = invoice_paid(customer="cus_newcomer", invoice_id=invoice_id, amount=amount, charge=charge, **kwargs)
    paid_at = int((timezone.now() - datetime.timedelta(days=days_ago)).timestamp())
    event["data"]["object"]["status_transitions"]["paid_at"] = paid_at
    return event
