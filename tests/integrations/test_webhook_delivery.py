"""Outbound webhooks against a real receiver started by the test (tests/webhooks_support.py):
the signature verifies with the documented algorithm, a 500 is retried with back-off, attempts
run out into "failed", a resend delivers again, one event reaches each endpoint once, a rotated
secret signs beside the new one for its grace period only, a disabled endpoint gets nothing (its
deliveries wait, pending, until it is enabled again), a slow receiver costs one attempt its
timeout, and the SSRF guard of the production settings."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from integrations import delivery, events, health, signing, transport
from integrations.models import DeliveryStatus, EventType, WebhookDelivery, WebhookEndpoint, WebhookEvent
from rewards import crediting
from tests.webhooks_support import Receiver, endpoint_for, points_reward_credited, signatures, verify

pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]
STAFF_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "staff.md"


def _due_now(delivery_row: WebhookDelivery) -> None:
    """What the back-off's wait would do: the next attempt is due (no sleeping in tests)."""
    WebhookDelivery.objects.filter(pk=delivery_row.pk).update(next_attempt_at=timezone.now())


def _attempt(delivery_row: WebhookDelivery) -> str:
    return delivery.delivery_attempt(delivery_id=delivery_row.pk)


def test_a_credited_reward_reaches_the_endpoint_signed_as_documented(
    make_practice: Callable[..., Any], webhook_receiver: Receiver
) -> None:
    endpoint = endpoint_for(webhook_receiver)
    reward = points_reward_credited(make_practice)
    event = WebhookEvent.objects.get()
    assert (event.type, event.key) == (EventType.REWARD_EARNED, f"reward:{reward.pk}")
    assert webhook_receiver.requests == []  # nothing is sent inside the change's transaction
    row = WebhookDelivery.objects.get()
    assert row.endpoint == endpoint and row.status == DeliveryStatus.PENDING

    assert _attempt(row) == DeliveryStatus.DELIVERED
    [request] = webhook_receiver.requests
    assert verify(request, endpoint.secret)
    assert not verify(request, signing.secret_generate())
    assert request.headers["DentalTap-Event-Id"] == event.event_id
    assert request.headers["DentalTap-Event-Type"] == "reward.earned"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert body["id"] == event.event_id and body["type"] == "reward.earned"
    assert body["data"]["reward"]["id"] == reward.pk
    assert body["data"]["reward"]["points"] == 1500 and body["data"]["reward"]["amount_cents"] == 0
    assert b"@" not in request.body  # no email address
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.DELIVERED, 1, 200)
    [logged] = row.attempt_log.all()
    assert logged.status_code == 200 and "from the test receiver" in logged.response_snippet
    # A delivered delivery is not sent again by a second task.
    assert _attempt(row) == DeliveryStatus.DELIVERED
    assert len(webhook_receiver.requests) == 1


def test_the_snippet_in_the_staff_guide_verifies_real_requests_old_and_new_secret(
    make_practice: Callable[..., Any], webhook_receiver: Receiver
) -> None:
    """The Python an integrator copies from docs/staff.md, run as written."""
    section = STAFF_GUIDE.read_text()[STAFF_GUIDE.read_text().index("## Webhooks for integrations") :]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)  # type: ignore[union-attr]
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - the documented snippet itself
    signature_ok = namespace["dentaltap_signature_ok"]
    endpoint = endpoint_for(webhook_receiver)
    old = endpoint.secret
    new = delivery.endpoint_secret_rotate(endpoint_id=endpoint.pk, grace_hours=1)
    points_reward_credited(make_practice)
    _attempt(WebhookDelivery.objects.get())
    [request] = webhook_receiver.requests
    header = request.headers["DentalTap-Signature"]
    assert signature_ok(request.body, header, new) and signature_ok(request.body, header, old)
    assert not signature_ok(request.body + b" ", header, new)  # a body changed on the way
    assert not signature_ok(request.body, header, signing.secret_generate())
    stale = re.sub(r"t=\d+", lambda m: f"t={int(m.group(0)[2:]) - 3600}", header)
    assert not signature_ok(request.body, stale, new)  # an old timestamp (and so a bad signature)


def test_a_500_is_retried_after_a_jittered_back_off_then_delivered(
    make_practice: Callable[..., Any], webhook_receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    endpoint_for(webhook_receiver)
    points_reward_credited(make_practice)
    row = WebhookDelivery.objects.get()
    webhook_receiver.script = [500]

    before = timezone.now()
    assert _attempt(row) == DeliveryStatus.PENDING
    row.refresh_from_db()
    assert (row.attempts, row.last_status_code) == (1, 500)
    assert (
        before + datetime.timedelta(seconds=15)
        <= row.next_attempt_at
        <= timezone.now() + datetime.timedelta(seconds=30)
    )
    assert _attempt(row) == "not due"  # a task arriving early sends nothing
    assert len(webhook_receiver.requests) == 1

    _due_now(row)
    assert _attempt(row) == DeliveryStatus.DELIVERED
    assert [a.status_code for a in row.attempt_log.all()] == [500, 200]
    assert row.attempt_log.first().error == "answered 500"  # type: ignore[union-attr]
    first, second = webhook_receiver.requests
    assert first.body == second.body  # byte for byte: the receiver's idempotency key is the same
    assert first.headers["DentalTap-Event-Id"] == second.headers["DentalTap-Event-Id"]


def test_the_back_off_doubles_and_is_capped() -> None:
    for attempts, ceiling in ((1, 30), (2, 60), (3, 120), (10, 3 * 3600)):
        delays = [delivery.retry_delay_seconds(attempts) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(set(delays)) > 1  # jitter


def test_attempts_run_out_into_failed_and_a_resend_delivers(
    make_practice: Callable[..., Any], webhook_receiver: Receiver, settings: Any, staff: Any
) -> None:
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    endpoint_for(webhook_receiver)
    points_reward_credited(make_practice)
    row = WebhookDelivery.objects.get()
    webhook_receiver.script = [500, 503, 404]
    for expected in (DeliveryStatus.PENDING, DeliveryStatus.PENDING, DeliveryStatus.FAILED):
        _due_now(row)
        assert _attempt(row) == expected
    row.refresh_from_db()
    assert (row.status, row.attempts, row.next_attempt_at) == (DeliveryStatus.FAILED, 3, None)
    _due_now(row)
    assert _attempt(row) == DeliveryStatus.FAILED  # given up: no fourth request
    assert len(webhook_receiver.requests) == 3
    assert delivery.deliveries_relay() == 0  # beat leaves failed deliveries alone

    assert delivery.deliveries_resend(delivery_ids=[row.pk], actor=staff) == (1, [])
    row.refresh_from_db()
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 0)
    assert _attempt(row) == DeliveryStatus.DELIVERED
    assert [a.status_code for a in row.attempt_log.all()] == [500, 503, 404, 200]
    # Resending a delivered one sends the same event again (receivers dedupe by its id).
    delivery.deliveries_resend(delivery_ids=[row.pk], actor=staff)
    assert _attempt(row) == DeliveryStatus.DELIVERED
    ids = {request.headers["DentalTap-Event-Id"] for request in webhook_receiver.requests}
    assert len(webhook_receiver.requests) == 5 and len(ids) == 1


def test_one_event_reaches_each_endpoint_once_however_often_it_is_told(
    make_practice: Callable[..., Any], webhook_receiver: Receiver
) -> None:
    endpoint_for(webhook_receiver, "/crm")
    endpoint_for(webhook_receiver, "/zapier", types=[EventType.REWARD_EARNED])
    endpoint_for(webhook_receiver, "/other", types=[EventType.POINTS_REDEEMED])  # not subscribed
    reward = points_reward_credited(make_practice)
    crediting.reward_credit(reward_pk=reward.pk)  # a replayed credit task
    assert events.reward_earned(reward_id=reward.pk) is None  # the hand-off told again
    assert WebhookEvent.objects.count() == 1
    rows = list(WebhookDelivery.objects.order_by("pk"))
    assert len(rows) == 2
    for row in rows + rows:  # two tasks for each delivery
        _attempt(row)
    assert sorted(request.path for request in webhook_receiver.requests) == ["/crm", "/zapier"]


def test_a_rotated_secret_signs_beside_the_new_one_for_its_grace_period_only(
    make_practice: Callable[..., Any], webhook_receiver: Receiver, staff: Any
) -> None:
    endpoint = endpoint_for(webhook_receiver)
    old = endpoint.secret
    new = delivery.endpoint_secret_rotate(endpoint_id=endpoint.pk, grace_hours=24)
    assert new != old and new.startswith("whsec_")
    points_reward_credited(make_practice)
    row = WebhookDelivery.objects.get()
    _attempt(row)
    [during] = webhook_receiver.requests
    assert len(signatures(during)) == 2
    assert verify(during, new) and verify(during, old)  # a receiver on either secret accepts it

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    delivery.deliveries_resend(delivery_ids=[row.pk], actor=staff)
    _attempt(row)
    after = webhook_receiver.requests[1]
    assert len(signatures(after)) == 1
    assert verify(after, new) and not verify(after, old)

    newest = delivery.endpoint_secret_rotate(endpoint_id=endpoint.pk, grace_hours=0)  # no grace at all
    endpoint.refresh_from_db()
    assert endpoint.signing_secrets() == [newest]
    assert endpoint.previous_secret == "" and endpoint.previous_secret_expires_at is None


def test_a_grace_period_out_of_range_is_refused_naming_the_field(webhook_receiver: Receiver) -> None:
    from dentaltap.errors import ApplicationError

    endpoint = endpoint_for(webhook_receiver)
    with pytest.raises(ApplicationError) as refused:
        delivery.endpoint_secret_rotate(endpoint_id=endpoint.pk, grace_hours=10_000)
    assert "grace_hours" in refused.value.fields
    endpoint.refresh_from_db()
    assert endpoint.previous_secret == ""


def test_a_disabled_endpoint_gets_nothing_and_its_deliveries_wait_for_it(
    make_practice: Callable[..., Any], webhook_receiver: Receiver, staff: Any, settings: Any
) -> None:
    endpoint_for(webhook_receiver, "/off", is_enabled=False)
    later_off = endpoint_for(webhook_receiver, "/later-off")
    points_reward_credited(make_practice)
    row = WebhookDelivery.objects.get()  # none for the endpoint disabled when it happened
    assert row.endpoint == later_off
    assert health.endpoint_disable(endpoint_id=later_off.pk)
    assert _attempt(row) == "endpoint disabled"
    assert webhook_receiver.requests == []
    row.refresh_from_db()  # kept as it was: pending, no attempt spent, nothing in the log
    assert (row.status, row.attempts, row.leased_until) == (DeliveryStatus.PENDING, 0, None)
    assert not row.attempt_log.exists()
    settings.WEBHOOK_RELAY_AFTER_SECONDS = 0
    assert delivery.deliveries_relay() == 0  # beat does not churn through a disabled endpoint's
    count, refused = delivery.deliveries_resend(delivery_ids=[row.pk], actor=staff)
    assert count == 0 and "disabled" in refused[0]

    assert health.endpoint_enable(endpoint_id=later_off.pk)
    assert health.endpoint_deliveries_resume(endpoint_id=later_off.pk) == 1  # the task queued on enabling
    assert _attempt(row) == DeliveryStatus.DELIVERED
    assert [request.path for request in webhook_receiver.requests] == ["/later-off"]


def test_nothing_is_written_when_no_endpoint_listens(make_practice: Callable[..., Any]) -> None:
    points_reward_credited(make_practice)
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()


def test_an_event_nobody_listens_to_costs_one_query_and_reads_nothing_for_its_payload(
    make_practice: Callable[..., Any],
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    reward = points_reward_credited(make_practice)
    WebhookEvent.objects.all().delete()
    with CaptureQueriesContext(connection) as queries:
        assert events.reward_earned(reward_id=reward.pk) is None
    assert len(queries.captured_queries) == 1 and "integrations_webhookendpoint" in queries.captured_queries[0]["sql"]


def test_a_slow_receiver_costs_one_attempt_its_timeout_and_is_retried(
    make_practice: Callable[..., Any], webhook_receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    endpoint_for(webhook_receiver)
    points_reward_credited(make_practice)
    row = WebhookDelivery.objects.get()
    webhook_receiver.delay_seconds = 3
    assert _attempt(row) == DeliveryStatus.PENDING
    row.refresh_from_db()
    assert row.last_status_code is None and "timed out" in row.last_error
    webhook_receiver.delay_seconds = 0
    _due_now(row)
    assert _attempt(row) == DeliveryStatus.DELIVERED


def test_an_attempt_in_flight_is_not_sent_twice(make_practice: Callable[..., Any], webhook_receiver: Receiver) -> None:
    endpoint_for(webhook_receiver)
    points_reward_credited(make_practice)
    row = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=row.pk).update(leased_until=timezone.now() + datetime.timedelta(minutes=1))
    assert _attempt(row) == "in flight"
    assert delivery.deliveries_relay() == 0
    assert webhook_receiver.requests == []


# --------------------------------------------------------------------------- which addresses


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://93.184.216.34/hooks", "https only"),
        ("http://localhost:9000/hooks", "https only"),
        ("https://127.0.0.1/hooks", "private or local"),
        ("https://10.1.2.3/hooks", "private or local"),
        ("https://192.168.0.10/hooks", "private or local"),
        ("https://169.254.169.254/latest/meta-data", "private or local"),  # cloud metadata
        ("https://[::1]/hooks", "private or local"),
        ("https://[::ffff:127.0.0.1]/hooks", "private or local"),
        ("https://user:pass@93.184.216.34/hooks", "user name or password"),
        ("ftp://93.184.216.34/hooks", "full https://"),
        ("https://93.184.216.34:99999/hooks", "full https://"),
        ("https://[::1/hooks", "full https://"),
    ],
)
def test_production_settings_refuse_local_addresses_and_plain_http(url: str, problem: str, settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_LOCAL = False
    assert problem in (transport.url_problem(url) or "")


def test_production_settings_accept_a_public_https_address(settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_LOCAL = False
    assert transport.url_problem("https://93.184.216.34/hooks") is None


def test_development_allows_http_to_localhost_only() -> None:
    assert transport.url_problem("http://127.0.0.1:8000/hooks") is None
    assert transport.url_problem("http://localhost:8000/hooks") is None
    assert "https only" in (transport.url_problem("http://93.184.216.34/hooks") or "")


def test_an_endpoint_that_became_local_is_refused_at_send_time(
    make_practice: Callable[..., Any], webhook_receiver: Receiver, settings: Any
) -> None:
    """Saved while allowed (or DNS changed since): the guard runs again before every request."""
    endpoint_for(webhook_receiver)
    points_reward_credited(make_practice)
    settings.WEBHOOKS_ALLOW_LOCAL = False
    row = WebhookDelivery.objects.get()
    assert _attempt(row) == DeliveryStatus.PENDING
    assert webhook_receiver.requests == []
    assert row.attempt_log.get().error.startswith("refused: Webhooks are sent over https only")
    WebhookEndpoint.objects.update(url=webhook_receiver.url().replace("http://", "https://"))
    _due_now(row)
    _attempt(row)
    assert "private or local" in row.attempt_log.last().error  # type: ignore[union-attr]
    assert webhook_receiver.requests == []
