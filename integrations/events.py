"""Events into the outbox, and what each payload holds (docs/staff.md lists it for integrators).

`event_emit` runs in the transaction of the change it tells of: the event row and one delivery
per enabled endpoint that subscribed to its type commit with the change or not at all; the
deliveries are queued after the commit (a queueing lost with Redis is picked up by beat). With
no endpoint subscribed nothing is written. One event per (type, key), by database rule.

Payloads hold ids, amounts in integer cents with their currency, points, statuses and times;
practice names (a business, shown to integrations so a CRM can name the account). Never
patients, emails, people's names, tokens, IP addresses, fraud signals or staff notes."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from billing.models import Payment
from integrations.models import EventType, WebhookDelivery, WebhookEndpoint, WebhookEvent, event_id_new
from referrals.models import Referral
from rewards.models import Redemption, Reward
from rewards.points import points_balance
from tenants.selectors import home_practice


def event_emit(*, event_type: str, key: str, data: Callable[[], dict[str, Any]]) -> WebhookEvent | None:
    """Write the event and its deliveries (None: nobody subscribed, or it was written before).
    `data` builds the payload, only once an endpoint wants the event: with none subscribed (the
    usual case) an event costs this one query, not the reads its payload needs."""
    endpoint_ids = list(
        WebhookEndpoint.objects.filter(is_enabled=True, event_types__contains=[event_type]).values_list("pk", flat=True)
    )
    if not endpoint_ids:
        return None
    now = timezone.now()
    event_id = event_id_new()
    body = _body(event_id=event_id, event_type=event_type, created=now, data=data())
    event, created = WebhookEvent.objects.get_or_create(
        type=event_type, key=key, defaults={"event_id": event_id, "body": body, "created_at": now}
    )
    if not created:
        return None
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(event=event, endpoint_id=pk, next_attempt_at=now) for pk in endpoint_ids]
    )
    ids = [d.pk for d in deliveries]
    # A lambda, not functools.partial: Django's robust on_commit logs a failure by __qualname__.
    transaction.on_commit(lambda: deliveries_queue(ids), robust=True)
    return event


def _body(*, event_id: str, event_type: str, created: datetime.datetime, data: dict[str, Any]) -> str:
    """The envelope every event is sent in, as JSON: id, type, creation time, data."""
    envelope = {"id": event_id, "type": event_type, "created": int(created.timestamp()), "data": data}
    return json.dumps(envelope, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True)


def endpoint_test_send(*, endpoint_id: int) -> tuple[WebhookDelivery, bool]:
    """Staff check an endpoint's URL and secret: a `webhook.test` event to this endpoint only
    (whatever it subscribed to, enabled or not), signed and sent like any other, one attempt,
    in the delivery log. At most one per endpoint in WEBHOOK_TEST_EVENT_INTERVAL_SECONDS, decided
    under the endpoint's row lock: a double click gets the first one back. Returns (the
    delivery, whether it is new)."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update(no_key=True).get(pk=endpoint_id)
        now = timezone.now()
        recent = (
            WebhookDelivery.objects.filter(
                endpoint=endpoint,
                event__type=EventType.WEBHOOK_TEST,
                created_at__gt=now - datetime.timedelta(seconds=settings.WEBHOOK_TEST_EVENT_INTERVAL_SECONDS),
            )
            .order_by("-pk")
            .first()
        )
        if recent is not None:
            return recent, False
        event_id = event_id_new()
        data = {"endpoint_id": endpoint.pk, "message": "A test event sent from the DentalTap admin."}
        event = WebhookEvent.objects.create(
            event_id=event_id,
            type=EventType.WEBHOOK_TEST,
            key=f"endpoint:{endpoint.pk}:{event_id}",
            body=_body(event_id=event_id, event_type=EventType.WEBHOOK_TEST.value, created=now, data=data),
            created_at=now,
        )
        row = WebhookDelivery.objects.create(event=event, endpoint=endpoint, next_attempt_at=now)
        ids = [row.pk]
        transaction.on_commit(lambda: deliveries_queue(ids), robust=True)
    return row, True


def deliveries_queue(delivery_ids: list[int], countdown: float = 0) -> None:
    """Queue the deliveries (after commit). Stops at the first failure to publish: Redis is away,
    and beat queues what is still pending once it is back."""
    from integrations.tasks import webhook_deliver  # noqa: PLC0415 - integrations.tasks imports this app

    for pk in delivery_ids:
        if countdown:
            webhook_deliver.apply_async((pk,), countdown=countdown)
        else:
            webhook_deliver.delay(pk)


# --------------------------------------------------------------------------- payloads


def _referral(referral: Referral) -> dict[str, Any]:
    referrer_practice = home_practice(user=referral.referrer)
    practice = referral.referred_practice
    return {
        "referral": {
            "id": referral.pk,
            "source": referral.source,
            "created_at": referral.created_at,
            "converted_at": referral.converted_at,
        },
        "referrer": {
            "user_id": referral.referrer_id,
            "practice_id": referrer_practice.pk if referrer_practice else None,
        },
        "referred_practice": {"id": practice.pk, "name": practice.name} if practice is not None else None,
    }


def referral_created(*, referral_id: int) -> WebhookEvent | None:
    def data() -> dict[str, Any]:
        return _referral(Referral.objects.select_related("referrer", "referred_practice").get(pk=referral_id))

    return event_emit(event_type=EventType.REFERRAL_CREATED, key=f"referral:{referral_id}", data=data)


def referral_converted(*, referral_id: int) -> WebhookEvent | None:
    """Once per referral: its first conversion (a later move to another payment is not re-sent)."""

    def data() -> dict[str, Any]:
        referral = Referral.objects.select_related("referrer", "referred_practice").get(pk=referral_id)
        first = (
            Payment.objects.filter(practice=referral.referred_practice, is_reversed=False)
            .order_by("paid_at", "pk")
            .values("pk", "amount_cents", "currency")
            .first()
        )
        payload = _referral(referral)
        payload["first_payment"] = (
            {"id": first["pk"], "amount_cents": first["amount_cents"], "currency": first["currency"]} if first else None
        )
        return payload

    return event_emit(event_type=EventType.REFERRAL_CONVERTED, key=f"referral:{referral_id}", data=data)


def _reward(reward: Reward) -> dict[str, Any]:
    return {
        "id": reward.pk,
        "referral_id": reward.referral_id,
        "program_id": reward.program_id,
        "rule_id": reward.rule_id,
        "recipient": reward.recipient,
        "recipient_user_id": reward.recipient_user_id,
        "beneficiary_practice_id": reward.beneficiary_practice_id,
        "qualifying_payment_id": reward.qualifying_payment_id,
        "amount_cents": reward.amount_cents,
        "points": reward.points,
        "currency": reward.currency,
        "status": reward.status,
        "credited_at": reward.credited_at,
    }


def reward_earned(*, reward_id: int) -> WebhookEvent | None:
    def data() -> dict[str, Any]:
        return {"reward": _reward(Reward.objects.get(pk=reward_id))}

    return event_emit(event_type=EventType.REWARD_EARNED, key=f"reward:{reward_id}", data=data)


def reward_reversed(*, reward_id: int, amount_cents: int) -> WebhookEvent | None:
    def data() -> dict[str, Any]:
        reward = Reward.objects.get(pk=reward_id)
        return {
            "reward": _reward(reward),
            "reversal": {"amount_cents": amount_cents, "points": reward.points, "reversed_at": timezone.now()},
        }

    return event_emit(event_type=EventType.REWARD_REVERSED, key=f"reward:{reward_id}", data=data)


def points_redeemed(*, redemption_id: int) -> WebhookEvent | None:
    def data() -> dict[str, Any]:
        redemption = Redemption.objects.select_related("item", "user").get(pk=redemption_id)
        return {
            "redemption": {
                "id": redemption.pk,
                "user_id": redemption.user_id,
                "points": redemption.points,
                "created_at": redemption.created_at,
                "item": {"id": redemption.item_id, "name": redemption.item.name},
            },
            "points_balance": points_balance(user=redemption.user),
        }

    return event_emit(event_type=EventType.POINTS_REDEEMED, key=f"redemption:{redemption_id}", data=data)
