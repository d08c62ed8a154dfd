""" "Send a test event" from the admin, against the real receiver: a `webhook.test` event reaches
that endpoint only, signed so the documented check verifies it, its one attempt in the delivery
log; a double click (or two at the same moment) sends one; it reaches a disabled endpoint too
(staff check a fix before enabling it again); and from the outsider's side: nobody without the
change permission sends one, a GET sends nothing, and no endpoint can subscribe to test events."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import IntegrityError

from integrations import delivery, events, health
from integrations.models import DeliveryStatus, EventType, WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.factories import UserFactory
from tests.webhooks_support import Receiver, behind_a_held_lock, endpoint_for, verify

pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]
ENDPOINTS = "/admin/integrations/webhookendpoint/"
ClientFor = Callable[..., Any]


def test_the_button_sends_a_signed_test_event_to_that_endpoint_only(
    webhook_receiver: Receiver, staff: Any, client_for: ClientFor
) -> None:
    endpoint = endpoint_for(webhook_receiver, "/crm", types=[EventType.REWARD_EARNED])
    endpoint_for(webhook_receiver, "/other")  # subscribed to everything: gets nothing of this
    client = client_for(staff)
    page = client.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    assert f'action="{ENDPOINTS}{endpoint.pk}/test/"' in page and "Send a test event" in page

    response = client.post(f"{ENDPOINTS}{endpoint.pk}/test/")
    row = WebhookDelivery.objects.get()
    assert (
        response.status_code == 302 and response["Location"] == f"/admin/integrations/webhookdelivery/{row.pk}/change/"
    )
    assert row.endpoint == endpoint and row.event.type == EventType.WEBHOOK_TEST
    assert delivery.delivery_attempt(delivery_id=row.pk) == DeliveryStatus.DELIVERED
    [request] = webhook_receiver.requests
    assert request.path == "/crm" and verify(request, endpoint.secret)
    assert request.headers["DentalTap-Event-Type"] == "webhook.test"
    assert request.headers["DentalTap-Event-Id"] == row.event.event_id
    body = json.loads(request.body)
    assert set(body) == {"id", "type", "created", "data"} and body["type"] == "webhook.test"
    assert body["data"] == {"endpoint_id": endpoint.pk, "message": "A test event sent from the DentalTap admin."}
    html = client.get(response["Location"]).content.decode()  # the delivery log shows its attempt
    assert "status 200 from the test receiver" in html and "webhook.test" in html


def test_a_double_click_sends_one(webhook_receiver: Receiver, staff: Any, client_for: ClientFor, settings: Any) -> None:
    settings.WEBHOOK_TEST_EVENT_INTERVAL_SECONDS = 60
    endpoint = endpoint_for(webhook_receiver)
    client = client_for(staff)
    client.post(f"{ENDPOINTS}{endpoint.pk}/test/")
    response = client.post(f"{ENDPOINTS}{endpoint.pk}/test/", follow=True)
    assert "less than 60 seconds ago: not sent again" in response.content.decode()
    assert WebhookEvent.objects.count() == 1 and WebhookDelivery.objects.count() == 1
    settings.WEBHOOK_TEST_EVENT_INTERVAL_SECONDS = 0  # once the interval has passed, another one
    assert events.endpoint_test_send(endpoint_id=endpoint.pk)[1]
    assert WebhookDelivery.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_the_same_moment_send_one(webhook_receiver: Receiver) -> None:
    endpoint = endpoint_for(webhook_receiver)
    send = lambda: events.endpoint_test_send(endpoint_id=endpoint.pk)  # noqa: E731
    results = behind_a_held_lock(endpoint.pk, send, send)
    assert sorted(created for _row, created in results) == [False, True]
    assert results[0][0].pk == results[1][0].pk
    assert WebhookDelivery.objects.count() == 1


def test_a_test_event_gets_one_attempt_and_reaches_a_disabled_endpoint(webhook_receiver: Receiver) -> None:
    endpoint = endpoint_for(webhook_receiver)
    health.endpoint_disable(endpoint_id=endpoint.pk)
    webhook_receiver.script = [500]
    failed, _new = events.endpoint_test_send(endpoint_id=endpoint.pk)
    assert delivery.delivery_attempt(delivery_id=failed.pk) == DeliveryStatus.FAILED  # no retry
    failed.refresh_from_db()
    assert (failed.attempts, failed.next_attempt_at) == (1, None)

    WebhookDelivery.objects.update(created_at=failed.created_at.replace(year=2000))  # the interval passed
    fixed, _new = events.endpoint_test_send(endpoint_id=endpoint.pk)
    assert delivery.delivery_attempt(delivery_id=fixed.pk) == DeliveryStatus.DELIVERED
    endpoint.refresh_from_db()
    assert not endpoint.is_enabled and endpoint.failure_streak == 0  # checked; enabling is staff's call
    assert len(webhook_receiver.requests) == 2


def test_the_list_action_sends_one_to_each_selected_endpoint(
    webhook_receiver: Receiver, staff: Any, client_for: ClientFor
) -> None:
    first, second = endpoint_for(webhook_receiver, "/a"), endpoint_for(webhook_receiver, "/b")
    response = client_for(staff).post(
        ENDPOINTS,
        {"action": "send_test_event", "index": "0", "_selected_action": [str(first.pk), str(second.pk)]},
        follow=True,
    )
    assert response.content.decode().count("A test event is on its way") == 2
    assert sorted(WebhookDelivery.objects.values_list("endpoint_id", flat=True)) == [first.pk, second.pk]


def test_nobody_without_the_change_permission_sends_one(
    make_practice: Callable[..., Any], webhook_receiver: Receiver, staff: Any, client_for: ClientFor
) -> None:
    endpoint = endpoint_for(webhook_receiver)
    test_url = f"{ENDPOINTS}{endpoint.pk}/test/"
    owner, _practice = make_practice("outsider", schema=False)  # a practice owner: not staff
    for client in (client_for(), client_for(owner)):
        response = client.post(test_url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert client_for(UserFactory(is_staff=True)).post(test_url).status_code == 403
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookendpoint"))
    viewing = client_for(viewer)
    assert viewing.post(test_url).status_code == 403
    action = {"action": "send_test_event", "index": "0", "_selected_action": [str(endpoint.pk)]}
    viewing.post(ENDPOINTS, action)
    assert "Send a test event" not in viewing.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    assert client_for(staff).get(test_url).status_code == 302  # a GET (a link, a prefetch) sends nothing
    assert not WebhookEvent.objects.exists() and webhook_receiver.requests == []


def test_no_endpoint_subscribes_to_test_events(staff: Any, client_for: ClientFor, webhook_receiver: Receiver) -> None:
    form = {"url": webhook_receiver.url(), "event_types": ["webhook.test"], "is_enabled": "on", "_save": "Save"}
    response = client_for(staff).post(f"{ENDPOINTS}add/", form)
    assert "event_types" in response.context["adminform"].form.errors
    with pytest.raises(IntegrityError):
        WebhookEndpoint.objects.create(url=webhook_receiver.url(), event_types=["webhook.test"])
