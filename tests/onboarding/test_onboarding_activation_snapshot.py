"""Activation without a query per patient (issue 12's figure): a process trusts what it read of a
young practice's milestones for a few seconds, and the beat sweep catches the one activation that
trust can miss (another process recorded the last milestone in between)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from onboarding import tasks as onboarding_tasks
from onboarding.models import MilestoneKey, PracticeMilestone
from onboarding.services import activation_sweep, milestone_cache_clear
from practice import services as practice_services
from practice.models import Appointment, AppointmentStatus, Patient
from tenants.models import Practice, User

pytestmark = pytest.mark.django_db

Pair = tuple[User, Practice]


def _keys(practice: Practice) -> set[str]:
    return set(PracticeMilestone.objects.filter(practice=practice).values_list("key", flat=True))


def _add_patients(practice: Practice, count: int, capture: Callable[..., object]) -> None:
    with capture(execute=True), tenant_context(practice):  # type: ignore[attr-defined]
        for number in range(count):
            practice_services.patient_create(practice=practice, first_name=f"P{number}", last_name="Patient")


def _completed_elsewhere(practice: Practice) -> None:
    """Another process completed a visit and recorded the milestone, and its own activation check
    ran before the third patient existed: the rows are there, this process's memory knows nothing."""
    starts = timezone.now() + datetime.timedelta(days=1)
    with tenant_context(practice):
        Appointment.objects.create(
            patient=Patient.objects.earliest("pk"),
            starts_at=starts,
            ends_at=starts + datetime.timedelta(minutes=30),
            status=AppointmentStatus.COMPLETED,
        )
    for key in (MilestoneKey.FIRST_APPOINTMENT_BOOKED, MilestoneKey.FIRST_APPOINTMENT_COMPLETED):
        PracticeMilestone.objects.create(practice=practice, key=key, reached_at=timezone.now())


def _milestone_reads(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if PracticeMilestone._meta.db_table in query["sql"]]


def test_a_young_practices_patients_read_no_milestones_while_the_snapshot_is_fresh(
    practice_a: Pair, django_capture_on_commit_callbacks
) -> None:
    _owner, alpha = practice_a
    _add_patients(alpha, 2, django_capture_on_commit_callbacks)  # first patient recorded, snapshot read
    with CaptureQueriesContext(connection) as queries:
        _add_patients(alpha, 5, django_capture_on_commit_callbacks)
    assert _milestone_reads(queries) == []
    assert MilestoneKey.ACTIVATED not in _keys(alpha)  # no completed visit: nothing to activate


def test_the_sweep_records_the_activation_a_stale_snapshot_missed_for_that_practice_only(
    practice_a: Pair, practice_b: Pair, django_capture_on_commit_callbacks
) -> None:
    (_owner, alpha), (_other, bravo) = practice_a, practice_b
    _add_patients(alpha, 2, django_capture_on_commit_callbacks)
    _add_patients(bravo, 2, django_capture_on_commit_callbacks)
    _completed_elsewhere(alpha)
    _add_patients(alpha, 1, django_capture_on_commit_callbacks)  # the third, checked against the snapshot
    assert MilestoneKey.ACTIVATED not in _keys(alpha)  # the documented miss, until the sweep

    assert activation_sweep(recorded_within_seconds=600) == 1
    assert MilestoneKey.ACTIVATED in _keys(alpha)
    assert MilestoneKey.ACTIVATED not in _keys(bravo)  # it recorded milestones too, but is not activated
    assert activation_sweep(recorded_within_seconds=600) == 0  # once


def test_the_beat_task_runs_the_sweep(practice_a: Pair, django_capture_on_commit_callbacks) -> None:
    _owner, alpha = practice_a
    _add_patients(alpha, 3, django_capture_on_commit_callbacks)
    _completed_elsewhere(alpha)
    assert onboarding_tasks.activation_sweep.apply().get() == 1
    assert MilestoneKey.ACTIVATED in _keys(alpha)


def test_a_snapshot_past_its_time_is_read_again(
    practice_a: Pair, settings: Any, django_capture_on_commit_callbacks
) -> None:
    settings.ONBOARDING_MILESTONE_SNAPSHOT_SECONDS = 0  # every check reads: as after the interval
    _owner, alpha = practice_a
    _add_patients(alpha, 2, django_capture_on_commit_callbacks)
    _completed_elsewhere(alpha)
    _add_patients(alpha, 1, django_capture_on_commit_callbacks)
    assert MilestoneKey.ACTIVATED in _keys(alpha)


def test_the_sweep_skips_milestones_recorded_before_its_window(
    practice_a: Pair, django_capture_on_commit_callbacks
) -> None:
    _owner, alpha = practice_a
    _add_patients(alpha, 3, django_capture_on_commit_callbacks)
    _completed_elsewhere(alpha)
    PracticeMilestone.objects.filter(practice=alpha).update(recorded_at=timezone.now() - datetime.timedelta(hours=1))
    assert activation_sweep(recorded_within_seconds=600) == 0
    assert MilestoneKey.ACTIVATED not in _keys(alpha)


def _raced_at_the_windows_end(
    practice: Practice, capture: Callable[..., object], *, recorded_before_end: int
) -> datetime.datetime:
    """The snapshot race, then its times set explicitly: the completed visit (the last needed
    milestone) recorded `recorded_before_end` seconds before the 14-day window closed, the window
    closed 30 s before now. Returns when that milestone was recorded."""
    _add_patients(practice, 2, capture)
    _completed_elsewhere(practice)
    _add_patients(practice, 1, capture)  # the third, checked against the snapshot: missed
    assert MilestoneKey.ACTIVATED not in _keys(practice)
    window_end = timezone.now() - datetime.timedelta(seconds=30)
    recorded = window_end - datetime.timedelta(seconds=recorded_before_end)
    Practice.objects.filter(pk=practice.pk).update(created_at=window_end - datetime.timedelta(days=14))
    PracticeMilestone.objects.filter(practice=practice).update(
        reached_at=recorded - datetime.timedelta(hours=1), recorded_at=recorded - datetime.timedelta(hours=1)
    )
    PracticeMilestone.objects.filter(practice=practice, key=MilestoneKey.FIRST_APPOINTMENT_COMPLETED).update(
        reached_at=recorded, recorded_at=recorded
    )
    milestone_cache_clear()  # this process's memory of the signup time is from before the move
    return recorded


def test_an_activation_in_the_windows_last_minute_swept_after_it_closed_is_recorded_once(
    practice_a: Pair, django_capture_on_commit_callbacks
) -> None:
    _owner, alpha = practice_a
    recorded = _raced_at_the_windows_end(alpha, django_capture_on_commit_callbacks, recorded_before_end=60)
    swept_at = recorded + datetime.timedelta(seconds=90)  # 30 s after the window closed
    assert activation_sweep(recorded_within_seconds=310, now=swept_at) == 1
    activated = PracticeMilestone.objects.get(practice=alpha, key=MilestoneKey.ACTIVATED)
    assert activated.reached_at == recorded  # when it happened, not when the sweep ran
    assert activation_sweep(recorded_within_seconds=310, now=swept_at + datetime.timedelta(minutes=1)) == 0
    milestone_cache_clear()  # another process, knowing nothing
    assert activation_sweep(recorded_within_seconds=310, now=swept_at + datetime.timedelta(minutes=2)) == 0
    assert PracticeMilestone.objects.filter(practice=alpha, key=MilestoneKey.ACTIVATED).count() == 1


def test_a_needed_milestone_recorded_after_the_window_closed_does_not_activate(
    practice_a: Pair, django_capture_on_commit_callbacks
) -> None:
    _owner, alpha = practice_a
    recorded = _raced_at_the_windows_end(alpha, django_capture_on_commit_callbacks, recorded_before_end=-10)
    assert activation_sweep(recorded_within_seconds=310, now=recorded + datetime.timedelta(seconds=20)) == 0
    assert MilestoneKey.ACTIVATED not in _keys(alpha)


def test_a_later_milestone_the_rule_does_not_need_leaves_the_window_judged_by_the_needed_one(
    practice_a: Pair, django_capture_on_commit_callbacks
) -> None:
    _owner, alpha = practice_a
    recorded = _raced_at_the_windows_end(alpha, django_capture_on_commit_callbacks, recorded_before_end=60)
    PracticeMilestone.objects.create(
        practice=alpha, key=MilestoneKey.FIRST_REFERRAL_SENT, reached_at=recorded + datetime.timedelta(seconds=80)
    )
    PracticeMilestone.objects.filter(practice=alpha, key=MilestoneKey.FIRST_REFERRAL_SENT).update(
        recorded_at=recorded + datetime.timedelta(seconds=80)  # after the window closed
    )
    assert activation_sweep(recorded_within_seconds=310, now=recorded + datetime.timedelta(seconds=90)) == 1
    assert PracticeMilestone.objects.get(practice=alpha, key=MilestoneKey.ACTIVATED).reached_at == recorded
