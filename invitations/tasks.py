"""Invitation tasks: ids in, a service call, retries only for transient failures."""

from __future__ import annotations

from celery import shared_task

from dentaltap.tasks import RetryingTask
from invitations import services


@shared_task(base=RetryingTask, max_retries=6)
def invitation_send(invitation_id: int) -> bool:
    """Email one invitation (a fresh token each send). Safe to run twice."""
    return services.invitation_send(invitation_id=invitation_id)


@shared_task(soft_time_limit=60, time_limit=90)
def invitations_send_unsent() -> int:
    """Beat: re-queue invitations whose email is owed (e.g. the broker was down at commit)."""
    return services.invitations_send_unsent()


@shared_task(soft_time_limit=60, time_limit=90)
def invitations_expire() -> int:
    """Beat: persist the expiry of pending invitations past their date."""
    return services.invitations_expire()


@shared_task(base=RetryingTask, max_retries=6)
def invitation_seat_limit_notify(invitation_id: int) -> int:
    """Tell the inviter that their invitee hit the plan's seat limit. Safe to run twice."""
    return services.invitation_seat_limit_notify(invitation_id=invitation_id)
