"""Emails about access requests, sent from tasks."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from dentaltap.emails import email_build_per_language, email_language
from referrals.models import AccessRequest, AccessRequestStatus
from tenants.access import Permission, members_with_permission
from tenants.urls_helpers import practice_url


def access_request_notify(*, access_request_id: int) -> int:
    """One email per team manager of the practice, with a link to the confirmation page (the
    approval itself is a POST there). Returns how many were sent; 0 if already notified."""
    with transaction.atomic():
        access_request = (
            AccessRequest.objects.select_for_update(of=("self",))
            .select_related("practice", "requester")
            .filter(pk=access_request_id)
            .first()
        )
        if access_request is None or access_request.status != AccessRequestStatus.PENDING:
            return 0
        if access_request.notified_at is not None:
            return 0
        # Each team manager reads it in their own language.
        recipients = [
            (membership.user.email, email_language(user=membership.user))
            for membership in members_with_permission(
                practice=access_request.practice, permission=Permission.MANAGE_TEAM
            )
        ]
        context = {
            "requester_name": access_request.requester.get_full_name(),
            "requester_email": access_request.requester.email,
            "practice_name": access_request.practice.name,
            "review_url": practice_url(access_request.practice, f"/access-requests/{access_request.pk}/"),
        }
        messages = email_build_per_language(
            template_prefix="referrals/emails/access_request",
            context=context,
            recipients=recipients,
            time_zone=access_request.practice.time_zone,
        )
        access_request.notified_at = timezone.now()
        access_request.save(update_fields=["notified_at"])
        for message in messages:
            message.send()
    return len(recipients)


def access_requests_unnotified(*, older_than_seconds: int, limit: int = 500) -> list[int]:
    """Pending requests whose team was never told, a while after they were made: the broker was
    down when they were (the on-commit publish failed) or the worker died with the message."""
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than_seconds)
    return list(
        AccessRequest.objects.filter(
            status=AccessRequestStatus.PENDING, notified_at__isnull=True, created_at__lt=cutoff
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
