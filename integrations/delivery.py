"""Delivering the outbox: one attempt at one delivery, the retry schedule, the beat relay for
deliveries whose task was lost, staff resends and secret rotation.

An attempt takes a short lease on its delivery in one transaction, sends outside any transaction
(the HTTP request never holds a lock or a connection in a transaction), then records the attempt
and the outcome in another. A 2xx answer delivers; anything else (an error status, a redirect, a
timeout, a refused address) schedules the next attempt with exponential back-off and jitter,
until `WEBHOOK_MAX_ATTEMPTS`, then the delivery is failed. Every attempt is in the log, and
moves its endpoint's failure streak (integrations.health: a long one disables the endpoint).

A disabled endpoint's deliveries are not attempted and not failed: they stay pending until it
is enabled again. Test events (staff checking an endpoint) go to a disabled endpoint too, and
get one attempt."""

from __future__ import annotations

import datetime
import random

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from dentaltap.errors import ApplicationError
from integrations import events, health, signing, transport
from integrations.models import DeliveryStatus, EventType, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tenants.models import User

USER_AGENT = "DentalTap-Webhooks/1"


def retry_delay_seconds(attempts: int) -> float:
    """After the n-th failed attempt: base x 2^(n-1), capped, with jitter (half to all of it)."""
    ceiling = min(settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), settings.WEBHOOK_RETRY_MAX_SECONDS)
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret


def _lease_seconds() -> int:
    return 3 * settings.WEBHOOK_TIMEOUT_SECONDS + 30


def request_headers(delivery: WebhookDelivery, *, now: datetime.datetime) -> dict[str, str]:
    body = delivery.event.body.encode()
    header = signing.signature_header(
        secrets_in_use=delivery.endpoint.signing_secrets(now), timestamp=int(now.timestamp()), body=body
    )
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "DentalTap-Event-Id": delivery.event.event_id,
        "DentalTap-Event-Type": delivery.event.type,
        "DentalTap-Signature": header,
    }


def delivery_attempt(*, delivery_id: int) -> str:
    """Try one delivery once, if it is pending and due; safe to call twice at the same moment
    (the second finds it leased and does nothing)."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))  # never the endpoint row
            .select_related("event", "endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return "busy"
        if delivery.status != DeliveryStatus.PENDING:
            return delivery.status
        is_test = delivery.event.type == EventType.WEBHOOK_TEST
        if not delivery.endpoint.is_enabled and not is_test:
            return "endpoint disabled"  # kept pending, not attempted: enabling it again resumes it
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            return "not due"
        if delivery.leased_until is not None and delivery.leased_until > now:
            return "in flight"
        delivery.leased_until = now + datetime.timedelta(seconds=_lease_seconds())
        delivery.save(update_fields=["leased_until", "updated_at"])

    answer = transport.post(
        url=delivery.endpoint.url, body=delivery.event.body.encode(), headers=request_headers(delivery, now=now)
    )
    # A test event (staff checking the URL and secret) gets one attempt, no retries.
    return _outcome_record(delivery_id, answer, give_up=is_test)


def _outcome_record(delivery_id: int, answer: transport.Answer, *, give_up: bool) -> str:
    """The attempt, the delivery's outcome and the endpoint's failure streak, together. Locks the
    delivery, then its endpoint (health), always in that order."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        WebhookAttempt.objects.create(
            delivery=delivery,
            status_code=answer.status_code,
            duration_ms=answer.duration_ms,
            response_snippet=answer.snippet[: transport.SNIPPET_BYTES],
            error=answer.error or ("" if answer.ok else f"answered {answer.status_code}"),
        )
        delivery.attempts += 1
        delivery.last_status_code = answer.status_code
        delivery.last_error = answer.error[:300]
        delivery.leased_until = None
        if answer.ok:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                DeliveryStatus.DELIVERED,
                timezone.now(),
                None,
            )
        elif give_up or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            delay = retry_delay_seconds(delivery.attempts)
            delivery.next_attempt_at = timezone.now() + datetime.timedelta(seconds=delay)
            if delay <= settings.WEBHOOK_COUNTDOWN_MAX_SECONDS:  # longer waits are beat's (the relay)
                transaction.on_commit(lambda: events.deliveries_queue([delivery_id], countdown=delay), robust=True)
        delivery.save()
        health.attempt_outcome_record(endpoint_id=delivery.endpoint_id, ok=answer.ok)
        return delivery.status


def deliveries_relay(*, limit: int = 500) -> int:
    """Beat: queue the pending deliveries that are overdue (their task was lost with Redis, a
    worker died mid-attempt, or their wait was longer than a countdown) and not in flight."""
    now = timezone.now()
    overdue = now - datetime.timedelta(seconds=settings.WEBHOOK_RELAY_AFTER_SECONDS)
    due = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=overdue)
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .filter(Q(endpoint__is_enabled=True) | Q(event__type=EventType.WEBHOOK_TEST))  # a disabled one's wait
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    events.deliveries_queue(due)
    return len(due)


def deliveries_resend(*, delivery_ids: list[int], actor: User) -> tuple[int, list[str]]:
    """Staff send deliveries again (delivered or failed): a new round of attempts, queued after
    commit. Refused for a disabled endpoint. Returns (how many, refusals)."""
    resent, refused = [], []
    with transaction.atomic():
        for delivery in (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint", "event")
            .filter(pk__in=delivery_ids)
            .order_by("pk")
        ):
            if not delivery.endpoint.is_enabled and delivery.event.type != EventType.WEBHOOK_TEST:
                refused.append(
                    _("%(event)s: the endpoint %(url)s is disabled.")
                    % {"event": delivery.event.event_id, "url": delivery.endpoint.url}
                )
                continue
            delivery.status, delivery.attempts = DeliveryStatus.PENDING, 0
            delivery.next_attempt_at, delivery.delivered_at = timezone.now(), None
            delivery.save(update_fields=["status", "attempts", "next_attempt_at", "delivered_at", "updated_at"])
            resent.append(delivery.pk)
        transaction.on_commit(lambda: events.deliveries_queue(resent), robust=True)
    return len(resent), refused


@transaction.atomic
def endpoint_secret_rotate(*, endpoint_id: int, grace_hours: int) -> str:
    """A new signing secret; the current one keeps signing beside it for grace_hours (0: stops
    now). Returns the new secret (shown to staff once)."""
    if not 0 <= grace_hours <= settings.WEBHOOK_SECRET_GRACE_MAX_HOURS:
        raise ApplicationError(
            _("The grace period is between 0 and %(max)d hours.") % {"max": settings.WEBHOOK_SECRET_GRACE_MAX_HOURS},
            fields={"grace_hours": [_("Between 0 and %(max)d.") % {"max": settings.WEBHOOK_SECRET_GRACE_MAX_HOURS}]},
        )
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    if grace_hours:
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = timezone.now() + datetime.timedelta(hours=grace_hours)
    else:
        endpoint.previous_secret, endpoint.previous_secret_expires_at = "", None
    endpoint.secret = signing.secret_generate()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return endpoint.secret
