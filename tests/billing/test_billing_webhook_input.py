"""The Stripe webhook under hostile input that carries a valid signature: every body is either
stored in the inbox safely or refused with a 4xx naming the problem, and a refused body leaves no
row behind. Each case goes through the real webhook URL with a correctly signed payload."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from django.test import Client

from billing import services, webhooks
from billing.models import Payment, StripeEvent, StripeEventStatus
from tenants.models import Practice
from tests.stripe_helpers import SECRET, event, invoice_paid, stripe_object

pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]
WEBHOOK = "/stripe/webhook/"


def post_body(body: str | bytes, *, timestamp: int | None = None) -> Any:
    """POST `body` exactly as given, signed over exactly those bytes (as Stripe signs)."""
    raw = body if isinstance(body, bytes) else body.encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return Client(HTTP_HOST="dentaltap.localhost").post(
        WEBHOOK, raw, content_type="application/json", HTTP_STRIPE_SIGNATURE=f"t={timestamp},v1={digest}"
    )


def envelope(**changes: Any) -> dict[str, Any]:
    payload = event("customer.updated", stripe_object("customer", id="cus_hostile"))
    payload.update(changes)
    return payload


def assert_refused(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]  # a sentence a person can act on
    if field is not None:
        assert list(error["fields"]) == [field]
        assert field in error["message"]
    assert StripeEvent.objects.count() == 0  # nothing half-written
    return error


# --------------------------------------------------------------------------- the four from the issue


def test_a_hundred_thousand_nested_arrays_are_refused_before_parsing(public_tenant: Practice) -> None:
    now = int(time.time())
    deep = "[" * 100_000 + "]" * 100_000
    body = (
        f'{{"id": "evt_deep", "object": "event", "type": "customer.updated", "created": {now}, '
        f'"livemode": false, "data": {{"object": {{"id": "cus_deep", "nested": {deep}}}}}}}'
    )
    error = assert_refused(post_body(body), 400, "payload_too_deep")
    assert "nest" in error["message"]
    assert_refused(post_body("[" * 100_000 + "]" * 100_000), 400, "payload_too_deep")


def test_a_created_time_beyond_bigint_is_refused(public_tenant: Practice) -> None:
    assert_refused(post_body(json.dumps(envelope(created=10**30))), 400, "invalid_event", "created")


def test_a_ten_thousand_character_event_id_is_refused(public_tenant: Practice) -> None:
    assert_refused(post_body(json.dumps(envelope(id="evt_" + "a" * 10_000))), 400, "invalid_event", "id")


def test_an_event_type_with_a_nul_character_is_refused(public_tenant: Practice) -> None:
    assert_refused(post_body(json.dumps(envelope(type="invoice.paid\u0000"))), 400, "invalid_event", "type")


# --------------------------------------------------------------------------- the rest of the envelope


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": 12345}, "id"),
        ({"id": "in_not_an_event"}, "id"),
        ({"id": "evt_has space"}, "id"),
        ({"id": "evt_" + "a" * 97}, "id"),  # 101 characters: longer than the inbox column
        ({"type": "x" * 60 + "." + "y" * 60}, "type"),
        ({"type": "Invoice.Paid"}, "type"),
        ({"type": "invoice paid"}, "type"),
        ({"type": ""}, "type"),
        ({"created": True}, "created"),
        ({"created": 1.5e9}, "created"),
        ({"created": "1700000000"}, "created"),
        ({"created": -1}, "created"),
        ({"created": 1_000_000_000}, "created"),  # 2001: before Stripe existed
        ({"created": int(time.time()) + 2 * 86400}, "created"),  # the day after tomorrow
        ({"livemode": "yes"}, "livemode"),
        ({"livemode": 1}, "livemode"),
        ({"api_version": "2025-06-30." + "x" * 40}, "api_version"),
        ({"api_version": 20250630}, "api_version"),
        ({"object": "charge"}, "object"),
        ({"data": {}}, "data"),
        ({"data": {"object": [1, 2]}}, "data"),
        ({"data": {"object": {"id": 42}}}, "data"),
        ({"data": {"object": {"id": "cus_" + "x" * 200}}}, "data"),
        ({"data": {"object": {"id": "cus_nul\u0000"}}}, "data"),
    ],
)
def test_envelope_fields_out_of_shape_are_refused_with_the_field_named(
    public_tenant: Practice, changes: dict[str, Any], field: str
) -> None:
    assert_refused(post_body(json.dumps(envelope(**changes))), 400, "invalid_event", field)


@pytest.mark.parametrize("missing", ["id", "type", "created", "livemode", "data"])
def test_a_missing_envelope_field_is_named(public_tenant: Practice, missing: str) -> None:
    payload = envelope()
    del payload[missing]
    assert_refused(post_body(json.dumps(payload)), 400, "invalid_event", missing)


def test_nul_or_lone_surrogates_anywhere_in_the_event_are_refused(public_tenant: Practice) -> None:
    for text in ("Dr. \u0000Mallory", "half a pair \ud800"):
        payload = envelope()
        payload["data"]["object"]["description"] = text
        assert_refused(post_body(json.dumps(payload)), 400, "invalid_event", "data")
        payload = envelope()
        payload["data"]["object"]["metadata"] = {text: "as a key"}
        assert_refused(post_body(json.dumps(payload)), 400, "invalid_event", "data")


def test_an_escaped_backslash_before_u0000_is_ordinary_text(public_tenant: Practice) -> None:
    payload = envelope()
    payload["data"]["object"]["description"] = "C:\\u0000 is a path, not a NUL"
    response = post_body(json.dumps(payload))
    assert response.status_code == 200
    assert StripeEvent.objects.get().payload["data"]["object"]["description"] == "C:\\u0000 is a path, not a NUL"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_number_constants_are_refused(public_tenant: Practice, constant: str) -> None:
    body = json.dumps(envelope()).replace('"livemode": false', f'"livemode": false, "score": {constant}')
    assert constant in body
    assert_refused(post_body(body), 400, "malformed_payload")


def test_a_body_that_is_not_utf8_is_refused(public_tenant: Practice) -> None:
    body = json.dumps(envelope()).encode().replace(b"cus_hostile", b"cus_\xff\xfe")
    assert_refused(post_body(body), 400, "malformed_payload")


def test_an_oversized_body_is_refused_before_anything_else(public_tenant: Practice) -> None:
    payload = envelope()
    payload["data"]["object"]["description"] = "x" * (webhooks.MAX_BODY_BYTES + 1)
    assert_refused(post_body(json.dumps(payload)), 413, "payload_too_large")
    # Also when unsigned: the size is checked before the signature is computed.
    response = Client(HTTP_HOST="dentaltap.localhost").post(
        WEBHOOK, "x" * (webhooks.MAX_BODY_BYTES + 1), content_type="application/json"
    )
    assert_refused(response, 413, "payload_too_large")


def test_shapes_stripe_really_sends_are_accepted(public_tenant: Practice) -> None:
    """The limits leave room for what Stripe sends: a null api_version (Stripe's own example
    event), an object without an id, nesting a few levels deep, a big but legal body."""
    stripe_example = dict(stripe_object("event"), created=int(time.time()))
    assert stripe_example["api_version"] is None
    no_id = envelope(id="evt_balance", type="balance.available", data={"object": {"object": "balance"}})
    nested = envelope(id="evt_nested")
    nested["data"]["object"]["metadata"] = {"a": [[[[[{"b": [[[1]]]}]]]]]}
    big = envelope(id="evt_big")
    big["data"]["object"]["description"] = "ä" * 200_000  # 400 kB of UTF-8
    for payload in (stripe_example, no_id, nested, big):
        response = post_body(json.dumps(payload, ensure_ascii=False))  # UTF-8, as Stripe sends
        assert response.status_code == 200, (payload["id"], response.content[:300])
    assert StripeEvent.objects.count() == 4


def test_a_huge_amount_inside_the_object_is_stored_and_ends_failed_with_nothing_half_written(
    make_practice: Any,
) -> None:
    """The envelope is sound, so the event enters the inbox; the amount cannot be a payment, so
    processing fails inside its savepoint (retried, then marked failed) and leaves no payment."""
    _owner, practice = make_practice("huge")
    services.account_for(practice)
    from billing.models import PracticeAccount

    PracticeAccount.objects.filter(practice=practice).update(stripe_customer_id="cus_huge")
    response = post_body(json.dumps(invoice_paid(customer="cus_huge", invoice_id="in_huge", amount=10**30)))
    assert response.status_code == 200
    stored = StripeEvent.objects.get()
    outcomes = []
    for _attempt in range(services.MAX_EVENT_ATTEMPTS):
        try:
            outcomes.append(services.stripe_event_process(event_pk=stored.pk))
        except Exception as error:  # noqa: BLE001 - the retry path a task takes
            outcomes.append(type(error).__name__)
    assert outcomes[-1] == StripeEventStatus.FAILED
    stored.refresh_from_db()
    assert stored.status == StripeEventStatus.FAILED and stored.attempts == services.MAX_EVENT_ATTEMPTS
    assert not Payment.objects.exists()


# --------------------------------------------------------------------------- signature timestamps


def test_a_signature_dated_a_year_ahead_is_refused(public_tenant: Practice) -> None:
    a_year_ahead = int(time.time()) + 365 * 86400
    error = assert_refused(post_body(json.dumps(envelope()), timestamp=a_year_ahead), 400, "bad_signature")
    assert "future" in error["message"]


def test_a_signature_just_outside_the_tolerance_is_refused_in_both_directions(
    public_tenant: Practice, settings: Any
) -> None:
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE
    now = int(time.time())
    assert_refused(post_body(json.dumps(envelope()), timestamp=now + tolerance + 30), 400, "bad_signature")
    assert_refused(post_body(json.dumps(envelope()), timestamp=now - tolerance - 30), 400, "bad_signature")


def test_a_signature_a_little_ahead_within_the_tolerance_is_accepted(public_tenant: Practice) -> None:
    """Clocks drift: a signature a minute ahead of ours is still Stripe's."""
    response = post_body(json.dumps(envelope()), timestamp=int(time.time()) + 60)
    assert response.status_code == 200 and StripeEvent.objects.count() == 1
