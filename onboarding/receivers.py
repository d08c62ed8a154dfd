"""tenants (below this app) creates practices and memberships and cannot call onboarding: it
hands them up through its typed hand-offs (tenants.handoffs), registered in OnboardingConfig.ready().
The receivers only schedule the record for after the commit (a rolled-back signup records
nothing)."""

from __future__ import annotations

from onboarding.models import MilestoneKey
from onboarding.services import milestone_record
from tenants.handoffs import MemberJoined, PracticeCreated
from tenants.models import JoinedVia


def on_practice_created(event: PracticeCreated) -> None:
    milestone_record(practice_id=event.practice.pk, key=MilestoneKey.PRACTICE_CREATED, at=event.practice.created_at)


def on_member_joined(event: MemberJoined) -> None:
    # Everyone but the owner who created the practice is a colleague joining it: an accepted
    # invitation, a referral link's guest access, an approved access request, staff.
    if event.membership.joined_via != JoinedVia.CREATED_PRACTICE:
        milestone_record(practice_id=event.membership.practice_id, key=MilestoneKey.FIRST_COLLEAGUE_JOINED)
