"""Concurrent team changes, with real transactions in real threads: no change is lost and a
practice never ends up without an owner."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tenants.access import membership_permissions
from tenants.models import JoinedVia, Membership, MembershipStatus, Practice, Role, User
from tenants.services import membership_create
from tenants.team import services as team_services
from tests.concurrency import run_together
from tests.factories import UserFactory

# The practices here are their public rows only: no test enters a practice's tables (conftest).
pytestmark = pytest.mark.practice_rows_only


@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner(
    make_practice: Callable[..., tuple[User, Practice]],
) -> None:
    first, practice = make_practice("coowned")
    second = UserFactory()
    second_membership = membership_create(
        user=second, practice=practice, role=Role.OWNER, joined_via=JoinedVia.INVITATION
    )
    first_membership = Membership.objects.get(user=first, practice=practice)

    for _ in range(3):  # the race is decided by the lock, whichever thread gets it first
        results = run_together(
            lambda: team_services.membership_change(
                actor=first, practice=practice, membership_id=second_membership.pk, role=Role.DENTIST
            ),
            lambda: team_services.membership_change(
                actor=second, practice=practice, membership_id=first_membership.pk, role=Role.DENTIST
            ),
        )
        assert sum(isinstance(result, Membership) for result in results) == 1, results
        assert sum(isinstance(result, team_services.NotAllowed) for result in results) == 1, results
        owners = Membership.objects.filter(practice=practice, role=Role.OWNER, status=MembershipStatus.ACTIVE)
        assert owners.count() == 1
        # Reset: the remaining owner makes the other owner again.
        remaining = owners.get()
        other = first if remaining.user_id == second.pk else second
        team_services.membership_change(
            actor=remaining.user, practice=practice,
            membership_id=Membership.objects.get(user=other, practice=practice).pk, role=Role.OWNER,
        )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_concurrent_edits_of_one_membership_keep_both_changes(
    make_practice: Callable[..., tuple[User, Practice]],
) -> None:
    owner, practice = make_practice("busy")
    admin = UserFactory()
    membership_create(user=admin, practice=practice, role=Role.PRACTICE_ADMIN, joined_via=JoinedVia.INVITATION)
    assistant = UserFactory()
    target = membership_create(user=assistant, practice=practice, role=Role.ASSISTANT, joined_via=JoinedVia.INVITATION)

    results = run_together(
        lambda: team_services.membership_change(
            actor=owner, practice=practice, membership_id=target.pk, granted_permissions=["view_billing"]
        ),
        lambda: team_services.membership_change(
            actor=admin, practice=practice, membership_id=target.pk, revoked_permissions=["view_schedule"]
        ),
    )
    assert all(isinstance(result, Membership) for result in results), results
    target.refresh_from_db()
    assert membership_permissions(target) == {"view_patients", "view_billing"}
    assert target.granted_permissions == ["view_billing"] and target.revoked_permissions == ["view_schedule"]
