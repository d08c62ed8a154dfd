"""Reads about a user's practices: where they may go (the switcher) and their own practice.
The team's reads are in tenants/team/selectors.py."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Case, IntegerField, QuerySet, Value, When

from tenants.access import active_membership_filter
from tenants.models import JoinedVia, Membership, MembershipStatus, Practice, Role, User
from tenants.urls_helpers import practice_url


def memberships_for_switcher(*, user: User) -> QuerySet[Membership]:
    """Every practice the user may enter now (a temporary access past its expiry is not one),
    those they created first, then the rest by name. One indexed query."""
    return (
        Membership.objects.filter(active_membership_filter(), user=user)
        .select_related("practice")
        .annotate(
            own_rank=Case(
                When(joined_via=JoinedVia.CREATED_PRACTICE, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("own_rank", "practice__name", "practice_id")
    )


@dataclass(frozen=True)
class SwitcherEntry:
    practice_id: int
    name: str
    slug: str
    role_label: str
    url: str


def practice_switcher_entries(*, user: User) -> list[SwitcherEntry]:
    """The header's practice switcher: where the user may go, with the address of each."""
    return [
        SwitcherEntry(
            practice_id=membership.practice_id,
            name=membership.practice.name,
            slug=membership.practice.slug,
            role_label=str(membership.get_role_display()),
            url=practice_url(membership.practice),
        )
        for membership in memberships_for_switcher(user=user)
    ]


def home_practice(*, user: User) -> Practice | None:
    """A user's own practice: the first they created and still own, else the first they own.
    Where their referral link opens a door, and where their referral credit goes."""
    memberships = Membership.objects.filter(user=user, role=Role.OWNER, status=MembershipStatus.ACTIVE).select_related(
        "practice"
    )
    chosen = (
        memberships.filter(joined_via=JoinedVia.CREATED_PRACTICE).order_by("created_at").first()
        or memberships.order_by("created_at").first()
    )
    return chosen.practice if chosen else None
