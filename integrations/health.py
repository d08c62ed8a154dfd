"""Endpoint health: the failure streak every attempt keeps, the endpoint that disables itself
once it has done nothing but fail for long enough, the email to staff, and switching an endpoint
off and on again by hand (its kept deliveries resume).

The streak is `failing_since` (the first failed request since the last 2xx answer) and
`failure_streak` (how many failed since). An endpoint is disabled when both say so:
`failing_since` at least `WEBHOOK_DISABLE_AFTER_HOURS` ago (3 days) and at least
`WEBHOOK_DISABLE_MIN_FAILURES` requests in a row (20: two deliveries' worth of attempts, so one
event that failed days ago and a new one failing once is not enough). One 2xx resets both.

Decided in the failing attempt's own transaction, not by a beat scan: the streak and the attempt
that moves it commit together (they cannot drift apart), the endpoint stops at the attempt that
crosses the line rather than at the next scan, and when every endpoint is healthy nothing is
scanned at all. Race-safe without locking anything up front: the streak moves by one UPDATE
(its row lock orders two failing workers), and disabling is a conditional UPDATE (`WHERE
is_enabled AND ...`) that only one transaction can win; the email is queued after the commit of
that one, and sent under the endpoint's lock once (`disabled_notified_at`)."""

from __future__ import annotations

import datetime
import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from dentaltap.emails import email_build, email_language
from integrations import events
from integrations.models import DeliveryStatus, DisabledReason, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tenants.models import User
from tenants.urls_helpers import public_url

logger = logging.getLogger(__name__)


def attempt_outcome_record(*, endpoint_id: int, ok: bool) -> bool:
    """In the transaction recording an attempt: a success resets the streak, a failure extends it
    and may disable the endpoint. True when this very failure disabled it."""
    now = timezone.now()
    endpoints = WebhookEndpoint.objects.filter(pk=endpoint_id)
    if ok:
        # Matches (and so locks) no row when there is no streak: healthy endpoints cost no lock.
        endpoints.filter(failure_streak__gt=0).update(failure_streak=0, failing_since=None)
        return False
    endpoints.update(failure_streak=F("failure_streak") + 1, failing_since=Coalesce(F("failing_since"), Value(now)))
    if settings.WEBHOOK_DISABLE_AFTER_HOURS <= 0:
        return False
    disabled = endpoints.filter(
        is_enabled=True,
        failing_since__lte=now - datetime.timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS),
        failure_streak__gte=settings.WEBHOOK_DISABLE_MIN_FAILURES,
    ).update(is_enabled=False, disabled_reason=DisabledReason.FAILING, disabled_at=now, updated_at=now)
    if not disabled:
        return False
    endpoint = endpoints.values("failing_since", "failure_streak").get()
    logger.warning(
        "webhook endpoint %s disabled automatically: every request failed since %s (%d in a row)",
        endpoint_id,
        endpoint["failing_since"],
        endpoint["failure_streak"],
    )
    transaction.on_commit(lambda: _notice_queue(endpoint_id), robust=True)
    return True


def _notice_queue(endpoint_id: int) -> None:
    from integrations.tasks import webhook_endpoint_disabled_notify  # noqa: PLC0415 - tasks import this module

    webhook_endpoint_disabled_notify.delay(endpoint_id)


def endpoint_disabled_notify(*, endpoint_id: int) -> int:
    """Email staff (`WEBHOOK_ALERT_EMAILS`) that an endpoint disabled itself, once per disabling:
    sent under the endpoint's lock, then marked. Safe to run twice. Returns how many emails.

    The email names the endpoint by id, description and host only: a receiver's URL often holds
    its own token in the path or query, and the secret is never in it."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update(no_key=True).filter(pk=endpoint_id).first()
        if endpoint is None or endpoint.is_enabled or endpoint.disabled_reason != DisabledReason.FAILING:
            return 0
        assert endpoint.disabled_at is not None  # noqa: S101 - the table's constraint
        if endpoint.disabled_notified_at is not None and endpoint.disabled_notified_at >= endpoint.disabled_at:
            return 0
        deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
        last = WebhookAttempt.objects.filter(delivery__endpoint=endpoint).order_by("-attempted_at", "-pk").first()
        context = {
            "endpoint_id": endpoint.pk,
            "description": endpoint.description,
            "host": urlsplit(endpoint.url).hostname or "",
            "disabled_at": endpoint.disabled_at,
            "failing_since": endpoint.failing_since,
            "failure_streak": endpoint.failure_streak,
            "last_answer": (f"HTTP {last.status_code}" if last.status_code else last.error[:120]) if last else "",
            "pending": deliveries.filter(status=DeliveryStatus.PENDING).count(),
            "failed": deliveries.filter(status=DeliveryStatus.FAILED, updated_at__gte=endpoint.failing_since).count(),
            "endpoint_url": public_url(f"/admin/integrations/webhookendpoint/{endpoint.pk}/change/"),
        }
        languages = {
            user.email.lower(): user.language
            for user in User.objects.filter(email__in=settings.WEBHOOK_ALERT_EMAILS).only("email", "language")
        }
        messages = [
            email_build(
                template_prefix="integrations/emails/endpoint_disabled",
                context=context,
                to=[address],
                language=email_language(fallback=languages.get(address.lower())),
            )
            for address in settings.WEBHOOK_ALERT_EMAILS
        ]
        endpoint.disabled_notified_at = timezone.now()
        endpoint.save(update_fields=["disabled_notified_at"])
        for message in messages:
            message.send()
    return len(messages)


def disabled_notices_relay(*, after_seconds: int = 60) -> int:
    """Beat: queue the emails owed for endpoints that disabled themselves (their task was lost
    with Redis, or the mail server refused past the retries) at least `after_seconds` ago."""
    owed = list(
        WebhookEndpoint.objects.filter(
            is_enabled=False,
            disabled_reason=DisabledReason.FAILING,
            disabled_at__lte=timezone.now() - datetime.timedelta(seconds=after_seconds),
        )
        .filter(Q(disabled_notified_at__isnull=True) | Q(disabled_notified_at__lt=F("disabled_at")))
        .values_list("pk", flat=True)
    )
    for endpoint_id in owed:
        _notice_queue(endpoint_id)
    return len(owed)


def endpoint_disable(*, endpoint_id: int) -> bool:
    """Staff switch an endpoint off (its reason and time recorded). False if it was off."""
    now = timezone.now()
    changed = WebhookEndpoint.objects.filter(pk=endpoint_id, is_enabled=True).update(
        is_enabled=False, disabled_reason=DisabledReason.STAFF, disabled_at=now, updated_at=now
    )
    return bool(changed)


def endpoint_enable(*, endpoint_id: int) -> bool:
    """Staff switch an endpoint on again: the reason goes, the streak starts afresh (else its
    next failure would disable it at once), and after the commit its pending deliveries, kept
    while it was off, are due now and queued (`endpoint_deliveries_resume`). False if it was on."""
    changed = WebhookEndpoint.objects.filter(pk=endpoint_id, is_enabled=False).update(
        is_enabled=True,
        disabled_reason="",
        disabled_at=None,
        disabled_notified_at=None,
        failing_since=None,
        failure_streak=0,
        updated_at=timezone.now(),
    )
    if changed:
        transaction.on_commit(lambda: _resume_queue(endpoint_id), robust=True)
    return bool(changed)


def _resume_queue(endpoint_id: int) -> None:
    from integrations.tasks import webhook_endpoint_resume  # noqa: PLC0415 - tasks import this module

    webhook_endpoint_resume.delay(endpoint_id)


def endpoint_deliveries_resume(*, endpoint_id: int) -> int:
    """The pending deliveries of an enabled endpoint are due now and queued (a task, so a long
    backlog is not published inside a staff request; lost with Redis, the relay still sends
    them as they fall due). Takes no endpoint lock: attempts lock a delivery, then its endpoint.
    Failed ones stay failed: staff resend them from the delivery log. Returns how many."""
    now = timezone.now()
    with transaction.atomic():
        if not WebhookEndpoint.objects.filter(pk=endpoint_id, is_enabled=True).exists():
            return 0
        pending = WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=DeliveryStatus.PENDING).filter(
            Q(leased_until__isnull=True) | Q(leased_until__lt=now)
        )
        ids = list(pending.order_by("created_at", "pk").values_list("pk", flat=True))
        WebhookDelivery.objects.filter(pk__in=ids, status=DeliveryStatus.PENDING).update(next_attempt_at=now)
        transaction.on_commit(lambda: events.deliveries_queue(ids), robust=True)
    return len(ids)
