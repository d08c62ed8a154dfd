"""tenants (below this app) creates practices and memberships; it cannot call onboarding, so
their creation reaches milestone_record through Django's post_save, which only schedules the
record for after the commit (a rolled-back signup records nothing)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from onboarding.models import MilestoneKey
from onboarding.services import milestone_record
from tenants.models import JoinedVia, Membership, Practice


@receiver(post_save, sender=Practice, dispatch_uid="onboarding-practice-created")
def practice_created(sender: type[Practice], instance: Practice, created: bool, **kwargs: Any) -> None:
    if created and instance.schema_name != settings.PUBLIC_SCHEMA_NAME:
        milestone_record(practice_id=instance.pk, key=MilestoneKey.PRACTICE_CREATED, at=instance.created_at)


@receiver(post_save, sender=Membership, dispatch_uid="onboarding-colleague-joined")
def colleague_joined(sender: type[Membership], instance: Membership, created: bool, **kwargs: Any) -> None:
    # Everyone but the owner who created the practice is a colleague joining it: an accepted
    # invitation, a referral link's guest access, an approved access request, staff.
    if created and instance.joined_via != JoinedVia.CREATED_PRACTICE:
        milestone_record(practice_id=instance.practice_id, key=MilestoneKey.FIRST_COLLEAGUE_JOINED)
