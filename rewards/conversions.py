"""What the staff analytics need from payments, recorded when a payment changes (issue 14).

Called from billing's hand-offs (rewards/receivers.py: a payment recorded, a payment reversed),
inside the event's transaction and under billing's payments lock:

- the referral of the paying practice gets its conversion: `converted_at` and
  `first_paid_amount_cents` of the practice's first standing payment (not refunded or disputed),
  or both empty when none stands any more. Recomputed from the payments each time, so the order
  in which events arrive does not matter; a change drops the referral's cached cohort counts
  and its month's top-referrer counts;
- a referral newly converted (or whose conversion moved to another payment) is handed up
  (`rewards.handoffs.referral_converted`: outbound webhooks);
- the channel-share figure cached for the payment's month is dropped once the change commits
  (rewards/analytics.py), so the next page view counts that month again.
"""

from __future__ import annotations

import datetime
import functools

from django.db import transaction

from billing.models import Payment
from referrals.models import Referral
from rewards import analytics, analytics_top, handoffs


def referral_conversion_refresh(*, practice_id: int) -> None:
    first = (
        Payment.objects.filter(practice_id=practice_id, is_reversed=False)
        .order_by("paid_at", "pk")
        .values_list("paid_at", "amount_cents")
        .first()
    )
    converted_at, amount = first if first else (None, None)
    rows = Referral.objects.filter(referred_practice_id=practice_id).values_list(
        "pk", "created_at", "converted_at", "first_paid_amount_cents"
    )
    changed = [(pk, created_at) for pk, created_at, at, paid in rows if (at, paid) != (converted_at, amount)]
    if not changed:
        return
    Referral.objects.filter(pk__in=[pk for pk, _created_at in changed]).update(
        converted_at=converted_at, first_paid_amount_cents=amount
    )
    for _pk, created_at in changed:
        transaction.on_commit(functools.partial(analytics.cohort_forget, created_at=created_at))
        transaction.on_commit(functools.partial(analytics_top.top_referrers_forget, created_at=created_at))
    if converted_at is not None:
        for pk, _created_at in changed:
            handoffs.referral_converted.send(handoffs.ReferralConverted(referral_id=pk))


def payment_changed(*, practice_id: int, paid_at: datetime.datetime) -> None:
    """A payment was recorded, or its standing changed: keep the analytics' records true."""
    referral_conversion_refresh(practice_id=practice_id)
    transaction.on_commit(functools.partial(analytics.channel_share_forget, moment=paid_at))
