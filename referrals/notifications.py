"""Emails about access requests, sent from tasks."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

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
        recipients = [
            membership.user.email
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
        with translation.override(settings.LANGUAGE_CODE):
            subject = _("%(name)s asks to join %(practice)s") % {
                "name": context["requester_name"],
                "practice": context["practice_name"],
            }
            text = render_to_string("referrals/emails/access_request.txt", context)
            html = render_to_string("referrals/emails/access_request.html", context)
        access_request.notified_at = timezone.now()
        access_request.save(update_fields=["notified_at"])
        for recipient in recipients:
            message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [recipient])
            message.attach_alternative(html, "text/html")
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
