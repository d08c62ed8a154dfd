"""An endpoint's health, against the real receiver: failed requests build its failure streak
and one 2xx answer resets it; a streak long in time and in count (not either alone) disables
the endpoint once, its reason and time recorded, a log line and one email to staff (in their
language, naming no secret and no URL path or query); its deliveries are kept pending and not
attempted; staff switching it off and on in the admin, the kept deliveries resuming."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from integrations import delivery, events, health
from integrations.models import DeliveryStatus, DisabledReason, WebhookDelivery, WebhookEndpoint
from tests.factories import UserFactory
from tests.webhooks_support import Receiver, endpoint_for, points_reward_credited

pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]
ENDPOINTS = "/admin/integrations/webhookendpoint/"
ClientFor = Callable[..., Any]


def _attempt_due(row: WebhookDelivery) -> str:
    """The next attempt, due now (what the back-off's wait would do; no sleeping in tests)."""
    WebhookDelivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    return delivery.delivery_attempt(delivery_id=row.pk)


def _failing_for(endpoint: WebhookEndpoint, *, hours: float, failures: int) -> None:
    """What `failures` failed requests over the last `hours` leave on the endpoint."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - datetime.timedelta(hours=hours), failure_streak=failures
    )


def _notices(callbacks: list[Any]) -> list[Any]:
    return [c for c in callbacks if c.__qualname__.startswith("attempt_outcome_record.")]


@pytest.fixture
def thresholds(settings: Any) -> Any:
    settings.WEBHOOK_DISABLE_AFTER_HOURS = 72
    settings.WEBHOOK_DISABLE_MIN_FAILURES = 5
    settings.WEBHOOK_ALERT_EMAILS = ["ops@dentaltap.example"]
    return settings


def test_failed_requests_build_the_streak_and_one_success_resets_it(
    make_practice: Callable[..., Any], webhook_receiver: Receiver, thresholds: Any
) -> None:
    endpoint = endpoint_for(webhook_receiver)
    points_reward_credited(make_practice)
    row = WebhookDelivery.objects.get()
    webhook_receiver.script = [500, 503]
    before = timezone.now()
    assert _attempt_due(row) == DeliveryStatus.PENDING
    assert _attempt_due(row) == DeliveryStatus.PENDING
    endpoint.refresh_from_db()
    assert endpoint.failure_streak == 2 and before <= endpoint.failing_since <= timezone.now()  # the first failure
    first_failure = endpoint.failing_since

    webhook_receiver.script = [500]
    other = events.endpoint_test_send(endpoint_id=endpoint.pk)[0]  # a failed test event counts too
    delivery.delivery_attempt(delivery_id=other.pk)
    endpoint.refresh_from_db()
    assert (endpoint.failure_streak, endpoint.failing_since) == (3, first_failure)

    assert _attempt_due(row) == DeliveryStatus.DELIVERED
    endpoint.refresh_from_db()
    assert (endpoint.failure_streak, endpoint.failing_since, endpoint.is_enabled) == (0, None, True)


def test_a_page_opened_before_the_endpoint_disabled_itself_saved_untouched_leaves_it_off(
    webhook_receiver: Receiver, thresholds: Any, request: pytest.FixtureRequest
) -> None:
    client = request.getfixturevalue("client_for")(request.getfixturevalue("staff"))
    endpoint = endpoint_for(webhook_receiver)
    page = client.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    assert 'name="is_enabled_as_loaded" value="True"' in page
    stale_form = _change_form(endpoint, description="renamed")  # "enabled" as that page showed it
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_enabled=False, disabled_reason=DisabledReason.FAILING, disabled_at=timezone.now()
    )

    client.post(f"{ENDPOINTS}{endpoint.pk}/change/", stale_form)

    endpoint.refresh_from_db()
    assert endpoint.description == "renamed"  # the edit is kept
    assert not endpoint.is_enabled and endpoint.disabled_reason == DisabledReason.FAILING  # still off


@pytest.mark.parametrize(
    ("hours", "failures"),
    [(100, 3), (70, 500)],  # long enough but too few in a row; many, but not for long enough
)
def test_a_streak_short_of_either_threshold_leaves_the_endpoint_on(
    make_practice: Callable[..., Any], webhook_receiver: Receiver, thresholds: Any, hours: float, failures: int
) -> None:
    endpoint = endpoint_for(webhook_receiver)
    points_reward_credited(make_practice)
    _failing_for(endpoint, hours=hours, failures=failures)
    webhook_receiver.script = [500]
    assert _attempt_due(WebhookDelivery.objects.get()) == DeliveryStatus.PENDING
    endpoint.refresh_from_db()
    assert endpoint.is_enabled and endpoint.failure_streak == failures + 1


def test_three_days_of_failures_disable_it_once_and_its_deliveries_wait(
    make_practice: Callable[..., Any],
    webhook_receiver: Receiver,
    thresholds: Any,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint = endpoint_for(webhook_receiver, "/crm/hook_tok_PathSecret?key=QuerySecret")
    points_reward_credited(make_practice, name="first")
    points_reward_credited(make_practice, name="second")
    first, second = WebhookDelivery.objects.order_by("pk")
    _failing_for(endpoint, hours=73, failures=4)
    webhook_receiver.script = [500, 500]
    with caplog.at_level(logging.WARNING, logger="integrations.health"):
        with django_capture_on_commit_callbacks() as queued:
            assert _attempt_due(first) == DeliveryStatus.PENDING
        endpoint.refresh_from_db()
        assert not endpoint.is_enabled and endpoint.disabled_reason == DisabledReason.FAILING
        assert endpoint.disabled_at is not None and endpoint.failure_streak == 5
        assert len(_notices(queued)) == 1  # the email, queued after the commit

        # Further failures (a test event still goes to a disabled endpoint) disable nothing again.
        with django_capture_on_commit_callbacks() as queued_again:
            delivery.delivery_attempt(delivery_id=events.endpoint_test_send(endpoint_id=endpoint.pk)[0].pk)
        assert _notices(queued_again) == []
    [line] = [r for r in caplog.records if "disabled automatically" in r.getMessage()]
    assert "Secret" not in line.getMessage() and endpoint.secret not in line.getMessage()

    # Its deliveries are kept, pending, and no longer attempted (neither by a task nor by beat).
    assert _attempt_due(second) == "endpoint disabled" and _attempt_due(first) == "endpoint disabled"
    assert len(webhook_receiver.requests) == 2  # the failure that disabled it and the test event
    assert set(WebhookDelivery.objects.filter(event__type="reward.earned").values_list("status", flat=True)) == {
        DeliveryStatus.PENDING
    }
    thresholds.WEBHOOK_RELAY_AFTER_SECONDS = 0
    assert delivery.deliveries_relay() == 0


def test_staff_get_one_email_in_their_language_naming_no_secret(
    make_practice: Callable[..., Any], webhook_receiver: Receiver, thresholds: Any
) -> None:
    UserFactory(email="ops@dentaltap.example", language="de", is_staff=True)
    endpoint = endpoint_for(webhook_receiver, "/crm/hook_tok_PathSecret?key=QuerySecret", description="CRM")
    points_reward_credited(make_practice)
    _failing_for(endpoint, hours=80, failures=9)
    webhook_receiver.script = [502]
    _attempt_due(WebhookDelivery.objects.get())
    mail.outbox = []
    assert health.endpoint_disabled_notify(endpoint_id=endpoint.pk) == 1
    assert health.endpoint_disabled_notify(endpoint_id=endpoint.pk) == 0  # a second run: no second email
    assert health.disabled_notices_relay(after_seconds=0) == 0  # and beat owes none
    [email] = mail.outbox
    html = email.alternatives[0][0]  # type: ignore[attr-defined]
    assert email.to == ["ops@dentaltap.example"] and email.extra_headers["Content-Language"] == "de"
    assert f"Webhook-Endpunkt {endpoint.pk} (127.0.0.1) wurde deaktiviert" in email.subject
    assert "10 Anfragen in Folge" in email.body and "HTTP 502" in email.body and "CRM" in email.body
    assert f"/admin/integrations/webhookendpoint/{endpoint.pk}/change/" in email.body
    for text in (email.subject, email.body, html):
        assert "PathSecret" not in text and "QuerySecret" not in text and endpoint.secret not in text
        assert "whsec_" not in text


def test_an_email_owed_is_sent_by_beat_once_and_zero_hours_turns_the_rule_off(
    make_practice: Callable[..., Any], webhook_receiver: Receiver, thresholds: Any
) -> None:
    endpoint = endpoint_for(webhook_receiver)
    points_reward_credited(make_practice)
    row = WebhookDelivery.objects.get()
    _failing_for(endpoint, hours=1000, failures=1000)
    thresholds.WEBHOOK_DISABLE_AFTER_HOURS = 0
    webhook_receiver.script = [500, 500]
    _attempt_due(row)
    assert WebhookEndpoint.objects.get().is_enabled  # off: never disabled automatically

    thresholds.WEBHOOK_DISABLE_AFTER_HOURS = 72
    _attempt_due(row)  # its notice task "lost" (no commit here): beat owes the email
    assert health.disabled_notices_relay(after_seconds=0) == 1
    mail.outbox = []
    assert health.endpoint_disabled_notify(endpoint_id=endpoint.pk) == 1
    assert health.disabled_notices_relay(after_seconds=0) == 0


def _change_form(endpoint: WebhookEndpoint, **changes: Any) -> dict[str, Any]:
    data = {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "is_enabled": "on" if endpoint.is_enabled else None,
        "is_enabled_as_loaded": "True" if endpoint.is_enabled else "False",
        "_save": "Save",
        **changes,
    }
    return {key: value for key, value in data.items() if value is not None}


def test_staff_enable_it_again_the_streak_starts_afresh_and_the_kept_deliveries_go_out(
    make_practice: Callable[..., Any],
    webhook_receiver: Receiver,
    thresholds: Any,
    django_capture_on_commit_callbacks: Any,
    request: pytest.FixtureRequest,
) -> None:
    client = request.getfixturevalue("client_for")(request.getfixturevalue("staff"))
    endpoint = endpoint_for(webhook_receiver)
    points_reward_credited(make_practice, name="kept")
    points_reward_credited(make_practice, name="ran-out")
    kept, ran_out = WebhookDelivery.objects.order_by("pk")
    WebhookDelivery.objects.filter(pk=ran_out.pk).update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    _failing_for(endpoint, hours=80, failures=30)
    webhook_receiver.script = [500]
    _attempt_due(kept)
    endpoint.refresh_from_db()
    assert not endpoint.is_enabled
    page = client.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    assert "Disabled automatically: every request kept failing" in page and "31 requests in a row failed" in page

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            f"{ENDPOINTS}{endpoint.pk}/change/", _change_form(endpoint, is_enabled="on"), follow=True
        )
    assert "Enabled again: 1 pending delivery is sent now." in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.is_enabled and (endpoint.disabled_reason, endpoint.disabled_at) == ("", None)
    assert (endpoint.failure_streak, endpoint.failing_since) == (0, None)
    assert [c.__qualname__ for c in queued] == ["endpoint_enable.<locals>.<lambda>"]  # the resume task
    assert health.endpoint_deliveries_resume(endpoint_id=endpoint.pk) == 1  # what that task does
    assert delivery.delivery_attempt(delivery_id=kept.pk) == DeliveryStatus.DELIVERED  # due now
    ran_out.refresh_from_db()
    assert ran_out.status == DeliveryStatus.FAILED  # staff resend those from the delivery log

    # Switched off by hand: the reason and the time are recorded too.
    client.post(f"{ENDPOINTS}{endpoint.pk}/change/", _change_form(endpoint, is_enabled=None))
    endpoint = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert not endpoint.is_enabled and endpoint.disabled_reason == DisabledReason.STAFF
    assert endpoint.disabled_at is not None


@pytest.mark.parametrize(
    ("streak", "pending", "words"),
    [
        (21, 1, ["21 запрос подряд", "1 ожидающая доставка сохранена"]),
        (22, 5, ["22 запроса подряд", "5 ожидающих доставок"]),
    ],
)
def test_the_email_reads_right_in_russian_plurals(streak: int, pending: int, words: list[str]) -> None:
    from dentaltap.emails import email_render

    context = {
        "endpoint_id": 7,
        "description": "",
        "host": "hooks.example.com",
        "disabled_at": timezone.now(),
        "failing_since": timezone.now() - datetime.timedelta(days=3),
        "failure_streak": streak,
        "last_answer": "",
        "pending": pending,
        "failed": 0,
        "endpoint_url": "https://dentaltap.example/admin/",
    }
    rendered = email_render(template_prefix="integrations/emails/endpoint_disabled", context=context, language="ru")
    assert rendered.subject.startswith("Адрес вебхука 7 (hooks.example.com) отключён")
    for text in (rendered.text, rendered.html):
        assert all(word in text for word in words), text
        assert "Описание" not in text and "Последний ответ" not in text  # empty: left out
