from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest
from django.utils import timezone

from tenants.access import active_membership_filter, membership_permissions, permissions_for
from tenants.models import JoinedVia, Membership, MembershipStatus, PermissionCode, Practice, Role, User
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


def effective_permissions(membership: Membership) -> frozenset[str]:
    """What the member could do with their access active (the page shows this for suspended
    members too, so an owner sees what restoring would give back)."""
    return permissions_for(membership.role, membership.granted_permissions, membership.revoked_permissions)


@dataclass(frozen=True)
class TeamRow:
    membership: Membership
    permissions: list[tuple[str, str]]
    has_access_now: bool
    is_expired: bool


def team_members(*, practice: Practice) -> list[TeamRow]:
    """Everyone with a membership in the practice, owners first, revoked last."""
    memberships = (
        Membership.objects.filter(practice=practice)
        .select_related("user")
        .annotate(
            status_rank=Case(
                When(status=MembershipStatus.ACTIVE, then=Value(0)),
                When(status=MembershipStatus.SUSPENDED, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            ),
            owner_rank=Case(When(role=Role.OWNER, then=Value(0)), default=Value(1), output_field=IntegerField()),
        )
        .order_by("status_rank", "owner_rank", "user__full_name", "user__email")
    )
    labels = dict(PermissionCode.choices)
    now = timezone.now()
    return [
        TeamRow(
            membership=membership,
            permissions=[
                (name, str(labels[name])) for name in PermissionCode.values if name in effective_permissions(membership)
            ],
            has_access_now=bool(membership_permissions(membership))
            or (
                membership.status == MembershipStatus.ACTIVE
                and (membership.expires_at is None or membership.expires_at > now)
            ),
            is_expired=membership.expires_at is not None and membership.expires_at <= now,
        )
        for membership in memberships
    ]


def team_extra_sections(request: HttpRequest, practice: Practice) -> list[dict[str, Any]]:
    """Sections other apps add to the Team page (pending access requests, invitations)."""
    return []


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
