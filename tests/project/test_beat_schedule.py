"""The beat schedule as production defines it can be applied, entry by entry.

Beat refuses an entry at send time (`SchedulingError`, logged, nothing sent) when, for example,
the task's soft time limit is above its hard one — which is what happened when a task set only
`soft_time_limit=120` and the global `CELERY_TASK_TIME_LIMIT` (90) became its hard limit. Calling
the task function directly never notices; these tests send each entry through beat's own
`Scheduler.apply_async` to the real broker (a throw-away queue) and read the messages back.
"""

from __future__ import annotations

import uuid
from typing import Any

from celery import beat
from kombu import Queue

from dentaltap.celery import app
from dentaltap.settings import base as production_settings

PROJECT_APPS = (
    "billing.", "integrations.", "invitations.", "lifecycle.", "offboarding.", "onboarding.", "practice.",
    "provisioning.", "referrals.", "tenants.",
)  # fmt: skip


def _project_tasks() -> dict[str, Any]:
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.startswith(PROJECT_APPS)}


def test_the_schedule_is_the_production_one() -> None:
    assert app.conf.beat_schedule == production_settings.CELERY_BEAT_SCHEDULE
    assert {
        "billing-stripe-events-relay",
        "billing-rewards-release-due",
        "invitations-send-unsent",
        "invitations-expire",
        "referrals-access-requests-notify-unsent",
    } <= set(production_settings.CELERY_BEAT_SCHEDULE)


def test_every_beat_entry_names_a_task_that_exists() -> None:
    tasks = _project_tasks()
    missing = [spec["task"] for spec in production_settings.CELERY_BEAT_SCHEDULE.values() if spec["task"] not in tasks]
    assert missing == []


def test_every_beat_entry_is_sent_by_beats_own_apply_async() -> None:
    """What beat does when an entry is due, against the real broker: a refused entry raises
    SchedulingError here exactly as it is logged in the running beat."""
    _project_tasks()
    queue_name = f"dentaltap-beat-check-{uuid.uuid4().hex[:12]}"
    scheduler = beat.Scheduler(app, lazy=True)
    refused: dict[str, str] = {}
    with app.connection_for_write() as connection:
        try:
            for name, spec in production_settings.CELERY_BEAT_SCHEDULE.items():
                entry = beat.ScheduleEntry(name=name, app=app, **spec)
                # Only the destination differs from beat's own send: nothing real runs.
                entry.options = {**entry.options, "queue": queue_name}
                try:
                    scheduler.apply_async(entry, advance=False)
                except beat.SchedulingError as error:
                    refused[name] = str(error)
            assert refused == {}

            sent: dict[str, tuple[Any, Any]] = {}
            with connection.SimpleQueue(queue_name) as queue:
                while True:
                    try:
                        message = queue.get(block=True, timeout=2)
                    except queue.Empty:
                        break
                    sent[message.headers["task"]] = tuple(message.headers["timelimit"])
                    message.ack()
        finally:
            with connection.channel() as channel:
                Queue(queue_name, channel=channel).delete()
    expected_tasks = {spec["task"] for spec in production_settings.CELERY_BEAT_SCHEDULE.values()}
    assert set(sent) == expected_tasks
    for task_name, (hard, soft) in sent.items():
        assert hard and soft and soft < hard, f"{task_name} carries time limits {soft=} {hard=}"


def test_every_task_has_a_soft_limit_below_its_hard_limit() -> None:
    """Every project task's effective limits (its own, or the global ones it inherits) are sendable:
    soft below hard. Otherwise every `delay()` of it raises, from beat and from code alike."""
    tasks = _project_tasks()
    assert len(tasks) >= 10
    wrong = {
        name: (task.soft_time_limit, task.time_limit)
        for name, task in tasks.items()
        if not (task.soft_time_limit and task.time_limit and task.soft_time_limit < task.time_limit)
    }
    assert wrong == {}
