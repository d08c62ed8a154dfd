"""The webhook's fast path (issue 14): one INSERT per event, ids handed to the broker in
batches after commit, the short way past the middleware with every answer header, a dead
database connection replaced, and nothing lost when the broker is away."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing import tasks
from billing.ingest import MAX_BATCH, outbox
from billing.models import StripeEvent, StripeEventStatus
from dentaltap.celery import app
from tests.billing_support import WEBHOOK, post_event
from tests.pgbouncer_support import direct_connection, server_backend_pid
from tests.stripe_helpers import invoice_paid, signed

pytestmark = pytest.mark.practice_rows_only


def queued_batches() -> list[list[int]]:
    """The event ids of every task message waiting in the broker, one list per message."""
    batches = []
    with app.connection_for_write() as broker:
        for raw in broker.default_channel.client.lrange("celery", 0, -1):
            message = json.loads(raw)
            assert message["headers"]["task"] == "billing.tasks.stripe_events_process"
            batches.append(json.loads(base64.b64decode(message["body"]))[0][0])
    return batches


@pytest.fixture
def empty_broker(transactional_db: None) -> Any:
    app.control.purge()
    yield
    outbox.flush()
    app.control.purge()


def test_a_new_event_is_one_insert_and_queued_once_after_commit(empty_broker: None) -> None:
    payload = invoice_paid(customer="cus_unknown", invoice_id="in_one", event_id="evt_one")
    with CaptureQueriesContext(connection) as queries:
        response = post_event(payload)
    assert response.status_code == 200 and response.json() == {"received": True, "duplicate": False}
    # (A `SET search_path` may come first on a new connection: django-tenants sends it once.)
    statements = [query["sql"] for query in queries.captured_queries if not query["sql"].startswith("SET ")]
    assert len(statements) == 1 and statements[0].startswith("INSERT INTO billing_stripeevent")
    assert "ON CONFLICT" in statements[0]
    assert outbox.flush()
    stored = StripeEvent.objects.get()
    assert stored.status == StripeEventStatus.PENDING and stored.payload == payload
    assert queued_batches() == [[stored.pk]]


def test_duplicates_store_nothing_and_queue_nothing(empty_broker: None) -> None:
    payload = invoice_paid(customer="cus_unknown", invoice_id="in_dup", event_id="evt_dup")
    assert post_event(payload).json()["duplicate"] is False
    assert outbox.flush()
    for _ in range(3):
        assert post_event(payload).json() == {"received": True, "duplicate": True}
    assert outbox.flush()
    assert StripeEvent.objects.count() == 1
    assert queued_batches() == [[StripeEvent.objects.get().pk]]


def test_many_events_share_task_messages_and_every_one_is_processed(empty_broker: None) -> None:
    """Ids gathered while a publish is under way go out together; each id in exactly one
    message; the batch task processes every one of them."""
    count = 2 * MAX_BATCH + 5
    outbox_lock = outbox._condition
    with outbox_lock:  # hold the publisher back: the ids pile up as under load
        for n in range(count):
            assert (
                post_event(invoice_paid(customer="cus_unknown", invoice_id=f"in_{n}", event_id=f"evt_m{n}")).status_code
                == 200
            )
        pks = list(StripeEvent.objects.order_by("pk").values_list("pk", flat=True))
    assert outbox.flush()
    batches = queued_batches()
    assert sorted(pk for batch in batches for pk in batch) == pks
    assert len(batches) < count and all(len(batch) <= MAX_BATCH for batch in batches)
    for batch in batches:
        assert tasks.stripe_events_process(batch) == len(batch)
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {StripeEventStatus.IGNORED}  # unknown customer


def test_a_failing_event_does_not_stop_the_rest_of_its_batch(db: None) -> None:
    post_event(invoice_paid(customer="cus_unknown", invoice_id="in_a", event_id="evt_a"))
    post_event(invoice_paid(customer="cus_unknown", invoice_id="in_b", event_id="evt_b"))
    first, second = StripeEvent.objects.order_by("pk")
    # A stored payload the handler cannot read (as a bug would make it): this one raises.
    StripeEvent.objects.filter(pk=first.pk).update(payload={"data": {}})
    assert tasks.stripe_events_process([first.pk, second.pk]) == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == StripeEventStatus.PENDING and first.attempts == 1  # left for the relay
    assert second.status == StripeEventStatus.IGNORED


def test_the_webhook_answer_carries_every_answer_header(db: None, public_tenant: Any) -> None:
    page = Client(HTTP_HOST="dentaltap.localhost").get("/login/")
    answer = post_event(invoice_paid(customer="cus_unknown", invoice_id="in_h", event_id="evt_h"))
    for header in (
        "Content-Security-Policy", "Cache-Control", "Expires", "X-Content-Type-Options", "X-Frame-Options",
        "Referrer-Policy", "Cross-Origin-Opener-Policy",
    ):  # fmt: skip
        assert answer.headers.get(header), header
        if header != "Expires":
            assert answer.headers[header] == page.headers[header], header
    refused = Client(HTTP_HOST="dentaltap.localhost").post(WEBHOOK, b"{}", content_type="application/json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "missing_signature"
    assert refused.headers["Content-Security-Policy"] == page.headers["Content-Security-Policy"]


def test_the_webhook_is_only_on_the_base_domain(db: None, practice_a: Any) -> None:
    _owner, alpha = practice_a
    body, header = signed(invoice_paid(customer="cus_unknown", invoice_id="in_p", event_id="evt_p"))
    response = Client(HTTP_HOST=f"{alpha.slug}.dentaltap.localhost").post(
        WEBHOOK, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code in (302, 404)
    assert not StripeEvent.objects.exists()


def test_refusals_are_in_english_whatever_the_thread_served_before(db: None, public_tenant: Any) -> None:
    from django.utils import translation

    translation.activate("de")
    try:
        refused = Client(HTTP_HOST="dentaltap.localhost").post(WEBHOOK, b"{}", content_type="application/json")
    finally:
        translation.deactivate()
    assert refused.json()["error"]["message"] == "Missing Stripe-Signature header."


@pytest.mark.django_db(transaction=True)
def test_a_dead_database_connection_is_replaced_and_the_event_stored(empty_broker: None) -> None:
    """The INSERT stands in for Django's SELECT 1 health check: a connection the server has
    dropped (here: terminated by an administrator) fails it, and it is sent again on a new one.
    Behind PgBouncer (DENTALTAP_TEST_PGBOUNCER_MODE) the administrator's connection goes straight
    to PostgreSQL and the backend is the server's own pid, not the made-up one the client sees;
    in transaction mode PgBouncer itself replaces the dead server connection."""
    assert post_event(invoice_paid(customer="cus_unknown", invoice_id="in_w", event_id="evt_warm")).status_code == 200
    pid = server_backend_pid(connection)
    with direct_connection() as administrator, administrator.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert cursor.fetchone() == (True,)
    response = post_event(invoice_paid(customer="cus_unknown", invoice_id="in_x", event_id="evt_after_kill"))
    assert response.status_code == 200 and response.json()["duplicate"] is False
    assert server_backend_pid(connection) != pid
    assert StripeEvent.objects.filter(stripe_event_id="evt_after_kill").count() == 1


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_away_events_wait_in_the_inbox_for_the_relay(redis_outage: None) -> None:
    response = post_event(invoice_paid(customer="cus_unknown", invoice_id="in_o", event_id="evt_outage"))
    assert response.status_code == 200
    assert outbox.flush(timeout=60)  # the publish failed (logged), nothing raised into the request
    stored = StripeEvent.objects.get()
    assert stored.status == StripeEventStatus.PENDING
