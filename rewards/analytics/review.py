"""The fraud review queue: flagged referrals nobody has decided on."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from referrals.models import Eligibility, EligibilityReason, Referral

REVIEW_QUEUE_LIMIT = 50


def review_queue(*, limit: int = REVIEW_QUEUE_LIMIT) -> QuerySet[Referral]:
    """Flagged referrals nobody has decided on: under review (throw-away email, shared address)
    or refused for velocity (staff may let a genuine burst through). Oldest first."""
    return (
        Referral.objects.filter(reviewed_at__isnull=True)
        .exclude(eligibility=Eligibility.ELIGIBLE)
        .filter(
            Q(eligibility=Eligibility.REVIEW)
            | Q(eligibility=Eligibility.INELIGIBLE, eligibility_reason=EligibilityReason.VELOCITY_LIMIT)
        )
        .select_related("referrer", "referred_user")
        .prefetch_related("rewards")
        .order_by("created_at", "pk")[:limit]
    )
