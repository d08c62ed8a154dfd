"""The webhook inbox's two fast steps: store a verified event once, and hand it to the worker.

A webhook request is on Stripe's clock (it retries slow answers), and under a burst it is the
hottest path of the app, so both steps are cut to the bone (issue 14, docs/benchmarks.md):

- **store**: one `INSERT ... ON CONFLICT (stripe_event_id) DO NOTHING RETURNING id`, in
  autocommit. A single statement is atomic; the unique constraint decides new vs duplicate, even
  for fifty copies racing; the payload goes in as the text Stripe signed (PostgreSQL parses it
  into jsonb), not re-encoded from Python. The ORM's get_or_create needed five statements in a
  transaction and a savepoint for the same.
- **hand over**: after commit, the event's id joins this process's outbox; one thread per
  process publishes what has gathered as one `stripe_events_process` task (a Celery publish costs
  about a millisecond of CPU, more than everything else the request does). With nothing queued
  the thread publishes at once, so an idle system adds no delay; under load (ids came while it
  was publishing) it lets the next batch gather for up to 50 ms, so one publish carries many.
  An id lost with its process (killed between commit and publish) or refused by a broker that
  is down stays `pending` in the inbox, and the relay (`stripe_events_relay`, beat) queues it
  again: nothing is lost.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from typing import Any

from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from billing.models import StripeEvent, StripeEventStatus
from billing.webhooks import Envelope

logger = logging.getLogger(__name__)

BATCH_TASK = "billing.tasks.stripe_events_process"
# Under load (ids arrived while the last batch was being published), the thread waits this long
# after the first id for others to join its batch: a Celery publish costs about a millisecond of
# CPU, so the fewer the messages the more events a process takes. When idle it publishes at once.
LINGER_SECONDS = 0.05
# Ids per published task: a batch is worked through by one worker in one task, so a large one
# would delay its last event behind the others (and their time limit is shared).
MAX_BATCH = 50

_INSERT_SQL = (
    f"INSERT INTO {StripeEvent._meta.db_table} "  # noqa: S608 - the model's own table name
    "(stripe_event_id, type, livemode, api_version, stripe_created, object_id, payload, status, note, "
    "attempts, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s, '', 0, %s) "
    "ON CONFLICT (stripe_event_id) DO NOTHING RETURNING id"
)


def stripe_event_store(*, envelope: Envelope) -> int | None:
    """Store a verified event in the inbox: its new row's id, or None when the event is already
    there (a duplicate changes nothing). One statement, one round trip.

    Outside a transaction the statement is also the connection's health check: Django would send
    a `SELECT 1` first on every request (`conn_health_checks`); instead, a connection found dead
    by the INSERT is replaced and the INSERT sent once more, which is safe because it is
    idempotent (ON CONFLICT DO NOTHING). Inside a caller's transaction nothing is retried."""
    params = [
        envelope.event_id,
        envelope.type,
        envelope.livemode,
        envelope.api_version,
        envelope.created,
        envelope.object_id,
        envelope.payload_text,
        StripeEventStatus.PENDING,
        timezone.now(),
    ]
    if connection.in_atomic_block:
        return _insert(params)
    if connection.connection is not None:
        connection.health_check_done = True  # type: ignore[attr-defined]
    try:
        return _insert(params)
    except (InterfaceError, OperationalError):
        logger.info("webhook insert: the database connection was unusable; retrying on a new one")
        connection.close()
        return _insert(params)


def _insert(params: list[Any]) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, params)
        row = cursor.fetchone()
    return row[0] if row else None


class EventOutbox:
    """Event ids waiting to be published, and the thread (one per process) that publishes them."""

    def __init__(self) -> None:
        self._pending: list[int] = []
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._busy = False

    def add(self, event_pk: int) -> None:
        with self._condition:
            self._pending.append(event_pk)
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._start()
            if len(self._pending) in (1, MAX_BATCH):  # it was idle, or its batch is full
                self._condition.notify()

    def _start(self) -> None:
        # Per process: a gunicorn worker forked from a master that published would inherit a
        # dead thread object; the new process starts its own.
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="stripe-event-outbox", daemon=True)
        self._thread.start()

    def _take(self) -> list[int]:
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        return batch

    def _run(self) -> None:
        while True:
            with self._condition:
                busy = bool(self._pending)  # more came while the last batch was being published
                while not self._pending:
                    self._condition.wait()
                deadline = time.monotonic() + (LINGER_SECONDS if busy else 0)
                while len(self._pending) < MAX_BATCH and (remaining := deadline - time.monotonic()) > 0:
                    self._condition.wait(remaining)
                batch = self._take()
                self._busy = True
            try:
                _publish(batch)
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every id added so far was handed to the broker (or given up on); True when
        nothing is left. For shutdown and tests."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._pending or self._busy:
                if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                    batch = self._take()
                    self._condition.release()
                    try:
                        _publish(batch)
                    finally:
                        self._condition.acquire()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
        return True


def _publish(batch: list[int]) -> None:
    if not batch:
        return
    from dentaltap.celery import app  # noqa: PLC0415 - the Celery app loads Django's settings

    try:
        app.send_task(BATCH_TASK, args=(batch,))
    except Exception:  # the broker is down: the events wait in the inbox for the relay
        logger.warning("could not queue %d Stripe event(s); the relay will", len(batch), exc_info=True)


outbox = EventOutbox()
atexit.register(outbox.flush)


def stripe_event_queue(*, event_pk: int) -> None:
    """Queue a stored event's processing once the transaction around it (if any) commits."""
    transaction.on_commit(lambda: outbox.add(event_pk))
