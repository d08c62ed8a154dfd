"""The staff pages of outbound webhooks: who may reach them (from the outsider's side), the
signing secret shown once then masked, rotation, refused addresses on the form, the delivery log
and its "resend" action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission

from integrations import delivery
from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.factories import UserFactory
from tests.webhooks_support import Receiver, endpoint_for, points_reward_credited

pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]

ENDPOINTS = "/admin/integrations/webhookendpoint/"
DELIVERIES = "/admin/integrations/webhookdelivery/"
EVENTS = "/admin/integrations/webhookevent/"
ClientFor = Callable[..., Any]


def _form(url: str, **changes: Any) -> dict[str, Any]:
    return {
        "url": url,
        "description": "CRM",
        "event_types": ["reward.earned", "referral.created"],
        "is_enabled": "on",
        "_save": "Save",
        **changes,
    }


def test_outsiders_and_staff_without_permission_reach_none_of_the_pages(
    make_practice: Callable[..., Any], webhook_receiver: Receiver, client_for: ClientFor
) -> None:
    endpoint = endpoint_for(webhook_receiver)
    secret = endpoint.secret
    owner, _practice = make_practice("outsider", schema=False)  # a practice owner: not staff
    rotate = f"{ENDPOINTS}{endpoint.pk}/rotate/"
    pages = [ENDPOINTS, f"{ENDPOINTS}add/", f"{ENDPOINTS}{endpoint.pk}/change/", rotate, DELIVERIES, EVENTS]
    for client in (client_for(), client_for(owner)):
        for page in pages:
            response = client.get(page)
            assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), page
        response = client.post(rotate, {"grace_hours": "0"})
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
        response = client.post(f"{ENDPOINTS}add/", _form(webhook_receiver.url("/evil")))
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    bare_staff = client_for(UserFactory(is_staff=True))
    for page in pages:
        assert bare_staff.get(page).status_code == 403, page
    assert bare_staff.post(rotate, {"grace_hours": "0"}).status_code == 403
    # Staff who may only look at endpoints cannot rotate their secret.
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookendpoint"))
    assert client_for(viewer).post(rotate, {"grace_hours": "0"}).status_code == 403
    assert WebhookEndpoint.objects.get().secret == secret
    assert WebhookEndpoint.objects.count() == 1


def test_the_secret_is_shown_once_on_creation_then_masked(
    staff: Any, webhook_receiver: Receiver, client_for: ClientFor
) -> None:
    client = client_for(staff)
    response = client.post(f"{ENDPOINTS}add/", _form(webhook_receiver.url()))
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert endpoint.secret in response.content.decode()
    assert endpoint.event_types == ["reward.earned", "referral.created"]
    for page in (ENDPOINTS, f"{ENDPOINTS}{endpoint.pk}/change/"):
        html = client.get(page).content.decode()
        assert endpoint.secret not in html
        assert f"whsec_…{endpoint.secret[-4:]}" in html


def test_rotation_from_the_admin_shows_the_new_secret_once_and_keeps_the_old_for_the_grace(
    staff: Any, webhook_receiver: Receiver, client_for: ClientFor
) -> None:
    endpoint = endpoint_for(webhook_receiver)
    old = endpoint.secret
    client = client_for(staff)
    rotate = f"{ENDPOINTS}{endpoint.pk}/rotate/"
    assert client.get(rotate).status_code == 200
    response = client.post(rotate, {"grace_hours": "999"})
    assert response.status_code == 200 and "grace_hours" in response.content.decode()
    assert WebhookEndpoint.objects.get().secret == old  # refused: nothing changed
    response = client.post(rotate, {"grace_hours": "12"})
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert endpoint.secret in response.content.decode() and "no-store" in response["Cache-Control"]
    assert endpoint.signing_secrets() == [endpoint.secret, old]


def test_the_form_refuses_a_local_or_plain_http_address_in_production_naming_the_field(
    staff: Any, client_for: ClientFor, settings: Any
) -> None:
    settings.WEBHOOKS_ALLOW_LOCAL = False
    client = client_for(staff)
    for url, words in (
        ("http://93.184.216.34/hooks", "https only"),
        ("https://10.0.0.7/hooks", "private or local"),
        ("https://169.254.169.254/", "private or local"),
    ):
        response = client.post(f"{ENDPOINTS}add/", _form(url))
        assert response.status_code == 200
        assert words in str(response.context["adminform"].form.errors["url"])
    response = client.post(f"{ENDPOINTS}add/", _form("https://93.184.216.34/hooks", event_types=[]))
    assert "event_types" in response.context["adminform"].form.errors
    assert not WebhookEndpoint.objects.exists()


def test_the_delivery_log_shows_each_attempt_and_resend_queues_it_again(
    make_practice: Callable[..., Any], staff: Any, webhook_receiver: Receiver, client_for: ClientFor
) -> None:
    endpoint_for(webhook_receiver)
    points_reward_credited(make_practice)
    row = WebhookDelivery.objects.get()
    webhook_receiver.script = [500]
    delivery.delivery_attempt(delivery_id=row.pk)
    client = client_for(staff)
    html = client.get(f"{DELIVERIES}{row.pk}/change/").content.decode()
    assert "status 500 from the test receiver" in html and "answered 500" in html
    assert "reward.earned" in client.get(DELIVERIES).content.decode()

    response = client.post(
        DELIVERIES, {"action": "resend", "index": "0", "_selected_action": [str(row.pk)]}, follow=True
    )
    assert "1 delivery queued again." in response.content.decode()
    row.refresh_from_db()
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 0)
    assert delivery.delivery_attempt(delivery_id=row.pk) == DeliveryStatus.DELIVERED
