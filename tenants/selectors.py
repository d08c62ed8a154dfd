from __future__ import annotations

from django.db.models import QuerySet

from tenants.models import Membership, MembershipStatus, User


def memberships_for_switcher(*, user: User) -> QuerySet[Membership]:
    """Every practice the user may enter now, their own first."""
    return (
        Membership.objects.filter(user=user, status=MembershipStatus.ACTIVE)
        .select_related("practice")
        .order_by("-joined_via", "practice__name")
    )
