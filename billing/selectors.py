from __future__ import annotations

from django.db.models import QuerySet

from billing.models import Reward
from tenants.models import Practice


def rewards_for_practice(*, practice: Practice) -> QuerySet[Reward]:
    """Rewards credited (or to be credited) to this practice, newest first."""
    return (
        Reward.objects.filter(beneficiary_practice=practice)
        .select_related("referral__referred_user")
        .order_by("-created_at")
    )
