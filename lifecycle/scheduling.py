"""When a milestone is reached, schedule the steps it triggers (one row per recipient), at a
sane local hour. The rows are the outbox: the beat task sends them (lifecycle.services)."""

from __future__ import annotations

import datetime
import logging
import zoneinfo

from django.conf import settings

from lifecycle.models import LifecycleMessage, LifecycleStep, LifecycleUnsubscribe
from onboarding.hooks import MilestoneReached
from onboarding.models import PracticeMilestone
from tenants.access import members_with_permission
from tenants.models import Practice, User

logger = logging.getLogger(__name__)


def recipient_time_zone(user: User) -> zoneinfo.ZoneInfo:
    """Users carry no time zone yet: the deployment's default (DENTALTAP_LIFECYCLE_TIME_ZONE)
    unless a `time_zone` field appears on the user."""
    name = str(getattr(user, "time_zone", "") or settings.LIFECYCLE_TIME_ZONE)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.LIFECYCLE_TIME_ZONE)


def is_sane_hour(moment: datetime.datetime, time_zone: zoneinfo.ZoneInfo) -> bool:
    first, last = settings.LIFECYCLE_SEND_HOURS
    return first <= moment.astimezone(time_zone).hour < last


def sane_moment(moment: datetime.datetime, time_zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    """`moment`, or the next start of the sending hours in the recipient's time zone."""
    first, _last = settings.LIFECYCLE_SEND_HOURS
    if is_sane_hour(moment, time_zone):
        return moment
    local = moment.astimezone(time_zone)
    start = local.replace(hour=first, minute=0, second=0, microsecond=0)
    if local >= start:
        start = (local + datetime.timedelta(days=1)).replace(hour=first, minute=0, second=0, microsecond=0)
    return start.astimezone(datetime.UTC)


def lifecycle_messages_schedule(event: MilestoneReached) -> None:
    """The milestone listener (registered in LifecycleConfig.ready)."""
    lifecycle_messages_schedule_count(event)


def lifecycle_messages_schedule_count(event: MilestoneReached) -> int:
    """Schedule the steps `event` triggers; returns the rows scheduled."""
    steps = list(LifecycleStep.objects.filter(is_active=True, trigger_milestone=event.key))
    if not steps:
        return 0
    practice = Practice.objects.filter(pk=event.practice_id).first()
    if practice is None:
        return 0
    reached = set(PracticeMilestone.objects.filter(practice=practice).values_list("key", flat=True))
    rows: list[LifecycleMessage] = []
    for step in steps:
        if step.awaited_milestone and step.awaited_milestone in reached:
            continue
        members = members_with_permission(practice=practice, permission=step.recipient_permission)
        unsubscribed = set(
            LifecycleUnsubscribe.objects.filter(user_id__in=[m.user_id for m in members]).values_list(
                "user_id", flat=True
            )
        )
        for membership in members:
            if membership.user_id in unsubscribed:
                continue
            due = event.reached_at + datetime.timedelta(hours=step.delay_hours)
            rows.append(
                LifecycleMessage(
                    practice=practice,
                    step=step,
                    recipient=membership.user,
                    due_at=sane_moment(due, recipient_time_zone(membership.user)),
                )
            )
    if not rows:
        return 0
    existing = LifecycleMessage.objects.filter(practice=practice, step__in=steps)
    before = existing.count()
    # The unique (practice, step, recipient) row decides: a repeat or a race schedules nothing.
    LifecycleMessage.objects.bulk_create(rows, ignore_conflicts=True)
    scheduled = existing.count() - before
    if scheduled:
        logger.info("practice %s: %d lifecycle email(s) scheduled after %s", practice.pk, scheduled, event.key)
    return scheduled
