"""What endpoint health (the failure streak, auto-disable) costs the outbound webhook path,
standalone: `.venv/bin/python bench/webhook_health.py`.

1. Statements per attempt (load-independent): a 2xx on a healthy endpoint, a failure, and the
   failure that disables the endpoint; how many of them are the health step's.
2. CPU time of one attempt against a local receiver (time.process_time; the receiver's thread
   runs in this process too) and of its health step alone, in alternating turns: the share of
   an attempt the health step is.
3. The beat relay with a disabled endpoint's backlog of pending deliveries kept (it skips
   them; how much reading them costs), against an empty backlog, in turns.

Uses its own data folder (embedded PostgreSQL and Redis), never a dev or test database; stop
them afterwards:
    DENTALTAP_DATA_DIR=/tmp/dentaltap-webhook-health-bench .venv/bin/python -m dentaltap.devstack stop
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # run as a script: the project first, not bench/

from bench import stack  # noqa: E402

stack.stack_start(
    os.environ.get("DENTALTAP_DATA_DIR", "/tmp/dentaltap-webhook-health-bench"),  # noqa: S108 - scratch
    environ={"DJANGO_LOG_LEVEL": "ERROR"},
)

import logging  # noqa: E402

logging.getLogger("integrations").setLevel(logging.ERROR)

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from integrations import delivery, health  # noqa: E402
from integrations.models import (  # noqa: E402
    SUBSCRIBABLE_TYPES,
    DeliveryStatus,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from tests.webhooks_support import Receiver  # noqa: E402


def _deliveries(endpoint: WebhookEndpoint, count: int, prefix: str) -> list[int]:
    now = timezone.now()
    event_rows = WebhookEvent.objects.bulk_create(
        [
            WebhookEvent(type=EventType.REWARD_EARNED, key=f"{prefix}:{i}", body='{"bench":true}', created_at=now)
            for i in range(count)
        ],
        batch_size=2000,
    )
    rows = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(event=event, endpoint=endpoint, next_attempt_at=now) for event in event_rows],
        batch_size=2000,
    )
    return [row.pk for row in rows]


def _attempt_counted(delivery_id: int) -> tuple[int, int]:
    WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now(), status="pending")
    with CaptureQueriesContext(connection) as queries:
        delivery.delivery_attempt(delivery_id=delivery_id)
    sqls = [q["sql"] for q in queries.captured_queries]
    ours = [s for s in sqls if s.startswith("UPDATE") and '"integrations_webhookendpoint"' in s.split("SET")[0]]
    ours += [s for s in sqls if s.startswith("SELECT") and '"failing_since"' in s and "FROM" in s and "JOIN" not in s]
    return len(sqls), len(ours)


def statements(receiver: Receiver) -> None:
    endpoint = WebhookEndpoint.objects.create(url=receiver.url("/ok"), event_types=SUBSCRIBABLE_TYPES)
    ok_id, fail_id, last_id = _deliveries(endpoint, 3, "statements")
    total, ours = _attempt_counted(ok_id)
    print(f"  2xx, healthy endpoint: {total} statements, {ours} of them health's")
    receiver.script = [500]
    total, ours = _attempt_counted(fail_id)
    print(f"  a failure:             {total} statements, {ours} of them health's")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - datetime.timedelta(days=4), failure_streak=settings.WEBHOOK_DISABLE_MIN_FAILURES
    )
    receiver.script = [500]
    total, ours = _attempt_counted(last_id)
    print(f"  the disabling failure: {total} statements, {ours} of them health's (+ the email, after commit)")


def cpu(receiver: Receiver, rounds: int, per_turn: int) -> None:
    endpoint = WebhookEndpoint.objects.create(url=receiver.url("/cpu"), event_types=SUBSCRIBABLE_TYPES)
    ids = _deliveries(endpoint, per_turn, "cpu")
    attempt_cpu, step_cpu = [], []
    for _ in range(rounds):
        WebhookDelivery.objects.filter(pk__in=ids).update(status=DeliveryStatus.PENDING, next_attempt_at=timezone.now())
        started = time.process_time()
        for pk in ids:
            delivery.delivery_attempt(delivery_id=pk)
        attempt_cpu.append((time.process_time() - started) / per_turn)
        started = time.process_time()
        for _pk in ids:
            health.attempt_outcome_record(endpoint_id=endpoint.pk, ok=True)
        step_cpu.append((time.process_time() - started) / per_turn)
    attempt, step = statistics.median(attempt_cpu), statistics.median(step_cpu)
    print(
        f"  CPU per 2xx attempt: {attempt * 1000:.2f} ms; its health step alone: {step * 1000:.3f} ms ({step / attempt:.1%})"
    )


def relay(backlog: int, rounds: int) -> None:
    off = WebhookEndpoint.objects.create(url="http://127.0.0.1:9/off", event_types=SUBSCRIBABLE_TYPES)
    kept = _deliveries(off, backlog, "relay")
    past = timezone.now() - datetime.timedelta(hours=1)
    WebhookDelivery.objects.filter(pk__in=kept).update(next_attempt_at=past)
    health.endpoint_disable(endpoint_id=off.pk)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE integrations_webhookdelivery")
    with_backlog, without = [], []
    for _ in range(rounds):
        for bucket, status in ((with_backlog, DeliveryStatus.PENDING), (without, DeliveryStatus.FAILED)):
            WebhookDelivery.objects.filter(endpoint=off).update(status=status)
            started = time.perf_counter()
            assert delivery.deliveries_relay() == 0
            bucket.append(time.perf_counter() - started)
    print(
        f"  relay, {backlog:,} kept deliveries of a disabled endpoint: median {statistics.median(with_backlog) * 1000:.1f} ms"
        f" vs {statistics.median(without) * 1000:.1f} ms with none (wall, {rounds} turns each)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-turn", type=int, default=100)
    parser.add_argument("--backlog", type=int, default=20_000)
    args = parser.parse_args()
    settings.WEBHOOKS_ALLOW_LOCAL = True
    settings.WEBHOOK_COUNTDOWN_MAX_SECONDS = 0  # retries left to beat: nothing is published
    stack.database_migrate(public_tenant=False)
    WebhookEndpoint.objects.all().delete()
    WebhookEvent.objects.all().delete()
    receiver = Receiver()
    try:
        print(f"load before: {stack.load_average()}")
        statements(receiver)
        cpu(receiver, args.rounds, args.per_turn)
        relay(args.backlog, args.rounds)
        print(f"load after: {stack.load_average()}")
    finally:
        receiver.close()
        WebhookEndpoint.objects.all().delete()
        WebhookEvent.objects.all().delete()


if __name__ == "__main__":
    main()
