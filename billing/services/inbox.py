"""The Stripe webhook inbox: verified events stored once (unique event id) in the request that
received them, processed by a task after commit, and re-queued by the relay when that task was
lost. The row is the job: `pending` until done."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing import ingest, webhooks
from billing.models import StripeEvent, StripeEventStatus
from billing.services.events import EVENT_HANDLERS, UnknownCustomer

logger = logging.getLogger(__name__)

# An event whose processing raised this many times is marked failed (visible in the admin, where
# staff can queue it again) instead of being retried forever.
MAX_EVENT_ATTEMPTS = 8


def webhook_receive(*, payload: bytes, signature: str | None) -> bool:
    """Verify and store a Stripe event in the inbox; processing runs in a task after commit.
    Returns whether the event was new (a duplicate changes nothing). A body that is not a sound,
    signed Stripe event is refused (billing/webhooks.py) and stores nothing. The fast store and
    hand-over are billing/ingest.py's (issue 14)."""
    envelope = webhooks.envelope_read(payload=payload, signature=signature)
    event_pk = ingest.stripe_event_store(envelope=envelope)
    if event_pk is None:
        return False
    # With Redis down the event is safe in the inbox; the relay picks it up.
    ingest.stripe_event_queue(event_pk=event_pk)
    return True


def stripe_event_process(*, event_pk: int) -> str:  # noqa: PLR0911 - one exit per outcome
    """Apply one stored event. Safe to run twice and in any order relative to other events."""
    with transaction.atomic():
        StripeEvent.objects.filter(pk=event_pk).update(attempts=F("attempts") + 1)
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().filter(pk=event_pk).first()
        if event is None:  # deleted by staff since it was queued: nothing to do
            return "missing"
        if event.status != StripeEventStatus.PENDING:
            return event.status
        if event.livemode != settings.STRIPE_LIVEMODE:
            return _finish(event, StripeEventStatus.IGNORED, "livemode does not match this deployment")
        handler = EVENT_HANDLERS.get(event.type)
        if handler is None:
            return _finish(event, StripeEventStatus.IGNORED, "event type not handled")
        try:
            with transaction.atomic():  # a savepoint: a failing handler leaves nothing behind
                note = handler(event.payload["data"]["object"], event)
        except UnknownCustomer as error:
            return _finish(event, StripeEventStatus.IGNORED, f"unknown customer: {error}")
        except Exception as error:
            if event.attempts < MAX_EVENT_ATTEMPTS:
                raise  # retried by the task, then by the relay
            logger.exception("Stripe event %s failed %s times", event.stripe_event_id, event.attempts)
            return _finish(event, StripeEventStatus.FAILED, f"{type(error).__name__}: {error}")
        return _finish(event, StripeEventStatus.PROCESSED, note)


def _finish(event: StripeEvent, status: str, note: str) -> str:
    event.status, event.note, event.processed_at = status, note[:300], timezone.now()
    event.save(update_fields=["status", "note", "processed_at"])
    return status


def stripe_events_relay(*, older_than_seconds: int = 30, limit: int = 500) -> int:
    """Queue events still pending a while after they arrived (the broker was down when they
    came, or a worker died). Processing is idempotent, so a duplicate queueing is harmless."""
    from billing.tasks import stripe_event_process  # noqa: PLC0415 - billing.tasks imports this module

    cutoff = timezone.now() - datetime.timedelta(seconds=older_than_seconds)
    pending = list(
        StripeEvent.objects.filter(
            status=StripeEventStatus.PENDING, received_at__lt=cutoff, attempts__lt=MAX_EVENT_ATTEMPTS
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in pending:
        stripe_event_process.delay(pk)
    return len(pending)
