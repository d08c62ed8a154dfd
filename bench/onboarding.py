"""Onboarding figures (issue 12), standalone: `.venv/bin/python bench/onboarding.py`.

1. Creating a patient with milestone recording vs without, in the same run (interleaved
   blocks, the same practice): throughput ratio, goal >= 0.95. Two states: an activated practice
   (the steady state of most practices) and a young one not yet activated (each create also
   evaluates the activation rule).
2. The staff cohort page with 10,000 practices in its range and 100,000 milestones in the table:
   median of whole requests through Django's test client, goal < 300 ms.
3. The due-message task with 10,000 scheduled rows, 1,000 of them due: time until all 1,000 are
   sent by one process running the task's code (the file mail backend), goal < 30 s.

Uses its own data folder (embedded PostgreSQL and Redis), never a dev or test database:
DENTALTAP_DATA_DIR=/tmp/dentaltap-onboarding-bench unless set. The seed adds to what is there,
so start from an empty folder for the stated sizes, and stop the servers afterwards:
    DENTALTAP_DATA_DIR=/tmp/dentaltap-onboarding-bench .venv/bin/python -m dentaltap.devstack stop
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
import zoneinfo
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # run as a script: the project first, not bench/

from bench import stack  # noqa: E402

DATA_DIR = os.environ.get("DENTALTAP_DATA_DIR", "/tmp/dentaltap-onboarding-bench")  # noqa: S108 - a scratch stack
stack.stack_start(DATA_DIR)  # sent mail: <data dir>/mail

import logging  # noqa: E402

for name in ("tenants", "onboarding", "lifecycle", "provisioning", "django.request"):
    logging.getLogger(name).setLevel(logging.ERROR)

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.utils import schema_context, tenant_context  # noqa: E402

from billing.models import Plan, PracticeAccount  # noqa: E402
from billing.services import account_for  # noqa: E402
from lifecycle.models import LifecycleMessage, LifecycleMessageStatus, LifecycleStep, LifecycleStepText  # noqa: E402
from lifecycle.services import lifecycle_send_due  # noqa: E402
from onboarding import services as onboarding_services  # noqa: E402
from onboarding.models import MilestoneKey, PracticeMilestone  # noqa: E402
from practice import services as practice_services  # noqa: E402
from practice.models import AppointmentStatus, Patient  # noqa: E402
from referrals.models import Eligibility, Referral, ReferralSource  # noqa: E402
from tenants.models import JoinedVia, Membership, Practice, Role, User  # noqa: E402

PASSWORD = "molar-Crown-2026"  # noqa: S105 - throw-away bench accounts
RUN = str(int(time.time()))
NOON = datetime.datetime(2026, 6, 10, 12, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))


# --------------------------------------------------------------------------- 1. patient create


def _no_record(**_kwargs: object) -> None:
    return None


def _create_block(practice: Practice, count: int, *, recording: bool) -> tuple[float, float]:
    """Wall seconds and CPU seconds (this process plus its PostgreSQL backend) for `count` creates."""
    practice_services.milestone_record = onboarding_services.milestone_record if recording else _no_record  # type: ignore[assignment]
    backend, process, started = stack.backend_cpu_seconds(), time.process_time(), time.perf_counter()
    for number in range(count):
        practice_services.patient_create(practice=practice, first_name=f"P{number}", last_name="Bench")
    wall = time.perf_counter() - started
    return wall, time.process_time() - process + stack.backend_cpu_seconds() - backend


def bench_patient_create(blocks: int, per_block: int) -> None:
    with schema_context("public"):
        _, activated = stack.practice_signup(
            f"act-{RUN}", email=f"act-{RUN}@bench.example", full_name="Dr. Active", practice_name="Bench active"
        )
        _, young = stack.practice_signup(
            f"young-{RUN}", email=f"young-{RUN}@bench.example", full_name="Dr. Young", practice_name="Bench young"
        )
    for practice in (activated, young):  # past Freemium's patient cap
        account_for(practice)
        PracticeAccount.objects.filter(practice=practice).update(plan=Plan.objects.get(code="pro"))
    with tenant_context(activated):
        _create_block(activated, 3, recording=True)
        patient = Patient.objects.first()
        start = timezone.now() + datetime.timedelta(days=1)
        practice_services.appointment_create(
            practice=activated, patient=patient, starts_at=start, ends_at=start + datetime.timedelta(minutes=30),
            status=AppointmentStatus.COMPLETED,
        )  # fmt: skip
    assert PracticeMilestone.objects.filter(practice=activated, key=MilestoneKey.ACTIVATED).exists()
    # The young practice stays below the rule: patients but no completed visit, inside its window.
    for label, practice in (("activated practice", activated), ("young practice, not activated", young)):
        with tenant_context(practice):
            _create_block(practice, per_block, recording=True)  # warm-up, both paths
            _create_block(practice, per_block, recording=False)
            times: dict[bool, list[float]] = {True: [], False: []}
            cpu: dict[bool, list[float]] = {True: [], False: []}
            for block in range(blocks):
                order = (True, False) if block % 2 == 0 else (False, True)
                for recording in order:
                    elapsed, spent = _create_block(practice, per_block, recording=recording)
                    times[recording].append(elapsed / per_block)
                    cpu[recording].append(spent / per_block)
        practice_services.milestone_record = onboarding_services.milestone_record  # type: ignore[assignment]
        with_median, without_median = statistics.median(times[True]), statistics.median(times[False])
        with_cpu, without_cpu = statistics.median(cpu[True]), statistics.median(cpu[False])
        print(
            f"patient create, {label}: with recording {with_median * 1000:.2f} ms, without {without_median * 1000:.2f} ms "
            f"(median of {blocks} blocks of {per_block}); throughput ratio {without_median / with_median:.3f}; "
            f"CPU (process + PostgreSQL backend) {with_cpu * 1000:.2f} / {without_cpu * 1000:.2f} ms, "
            f"CPU ratio {without_cpu / with_cpu:.3f}; load {stack.load_average()}"
        )


# --------------------------------------------------------------------------- 2. cohort page


def seed_cohorts(practices: int, extra: int) -> Client:
    """`practices` in the page's range, each with most milestones, plus `extra` older ones, so the
    milestone table holds ~100,000 rows; 15% came by referral link. Public rows only (no
    schemas): the page reads nothing else."""
    started = time.perf_counter()
    now = timezone.now()
    keys = list(MilestoneKey.values)
    total = practices + extra
    users = User.objects.bulk_create(
        User(email=f"c{number}-{RUN}@bench.example", full_name=f"Dr. {number}") for number in range(total)
    )
    signups = [
        now - datetime.timedelta(days=(number % 330) + 1 if number < practices else 500 + number % 200)
        for number in range(total)
    ]
    created_practices = Practice.objects.bulk_create(
        (
            Practice(name=f"C{number}", slug=f"c{number}-{RUN}", schema_name=f"practice_c{number}_{RUN}")
            for number in range(total)
        ),
        batch_size=5000,
    )
    # bulk_create applies auto_now_add: set the signup times afterwards.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tenants_practice p SET created_at = v.created_at FROM unnest(%s::bigint[], %s::timestamptz[]) "
            "AS v(id, created_at) WHERE p.id = v.id",
            [[practice.pk for practice in created_practices], signups],
        )
    memberships = [
        Membership(user=user, practice=practice, role=Role.OWNER, joined_via=JoinedVia.CREATED_PRACTICE)
        for user, practice in zip(users, created_practices, strict=True)
    ]
    Membership.objects.bulk_create(memberships, batch_size=5000)
    referrer = users[-1]
    Referral.objects.bulk_create(
        (
            Referral(
                referrer=referrer,
                referred_user=user,
                referred_practice=practice,
                source=ReferralSource.LINK,
                eligibility=Eligibility.ELIGIBLE,
            )
            for number, (user, practice) in enumerate(zip(users[:-1], created_practices[:-1], strict=True))
            if number % 100 < 15
        ),
        batch_size=5000,
    )
    milestones = []
    for number, (signup, practice) in enumerate(zip(signups, created_practices, strict=True)):
        for position, key in enumerate(keys):
            if key != MilestoneKey.PRACTICE_CREATED and (number + position) % 10 == 0:
                continue  # not every practice reaches everything
            hours = 0 if key == MilestoneKey.PRACTICE_CREATED else (number * 7 + position * 13) % (24 * 40)
            milestones.append(
                PracticeMilestone(practice=practice, key=key, reached_at=signup + datetime.timedelta(hours=hours))
            )
    PracticeMilestone.objects.bulk_create(milestones, batch_size=10000)
    restored = restored_seed(created_practices[:practices:100], now)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"seeded {total:,} practices ({practices:,} in the page's 12 months), "
        f"{PracticeMilestone.objects.count():,} milestones, {Referral.objects.count():,} referrals, "
        f"{restored} deleted and restored "
        f"in {time.perf_counter() - started:.1f} s"
    )
    staff = User.objects.create_user(f"staff-{RUN}@bench.example", PASSWORD, full_name="Staff", is_staff=True)
    client = Client(HTTP_HOST="dentaltap.localhost")
    client.force_login(staff)
    return client


def restored_seed(originals: list[Practice], now: datetime.datetime) -> int:
    """One practice in 100 deleted and restored yesterday, as offboarding does it: the original a
    tombstone, a new practice with a copy of its milestones and its referral. Before the
    restored practice named its original (`restored_from`) the copies only add rows."""
    linked = hasattr(Practice, "restored_from")
    copies = Practice.objects.bulk_create(
        Practice(
            name=f"R{original.pk}",
            slug=f"r{original.pk}-{RUN}",
            schema_name=f"practice_r{original.pk}_{RUN}",
            **({"restored_from": original} if linked else {}),
        )
        for original in originals
    )
    for original, copy in zip(originals, copies, strict=True):
        Practice.objects.filter(pk=original.pk).update(schema_name=f"deleted_{original.pk}")
        PracticeMilestone.objects.bulk_create(
            PracticeMilestone(practice=copy, key=row.key, reached_at=row.reached_at, notified_at=now)
            for row in PracticeMilestone.objects.filter(practice=original)
        )
        Referral.objects.filter(referred_practice=original).update(referred_practice=copy)
    Practice.objects.filter(pk__in=[copy.pk for copy in copies]).update(created_at=now - datetime.timedelta(days=1))
    return len(copies)


def bench_cohort_page(client: Client, runs: int) -> None:
    start = (timezone.localdate() - datetime.timedelta(days=365)).isoformat()
    end = timezone.localdate().isoformat()
    for cohort in ("month", "week"):
        url = f"/staff/onboarding/cohorts/?start={start}&end={end}&cohort={cohort}"
        for _ in range(3):
            assert client.get(url).status_code == 200
        times, cpu = [], []
        for _ in range(runs):
            backend, process, started = stack.backend_cpu_seconds(), time.process_time(), time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - process + stack.backend_cpu_seconds() - backend)
            assert response.status_code == 200
        rows = response.content.count(b"data-channel=")
        print(
            f"cohort page ({cohort}ly, 12 months, {rows} rows): median {statistics.median(times) * 1000:.0f} ms, "
            f"p95 {stack.percentile_nearest(times, 0.95) * 1000:.0f} ms, CPU (process + PostgreSQL backend) median "
            f"{statistics.median(cpu) * 1000:.1f} ms ({runs} runs); load {stack.load_average()}"
        )
    from lifecycle.cohorts import cohorts_build
    from rewards.analytics import DateRange

    period_range = DateRange(
        start=datetime.date.fromisoformat(start), end=datetime.date.fromisoformat(end), cohort="week"
    )
    cpu = []
    for _ in range(runs):
        backend, process = stack.backend_cpu_seconds(), time.process_time()
        cohorts_build(period_range=period_range)
        cpu.append(time.process_time() - process + stack.backend_cpu_seconds() - backend)
    print(
        f"cohort query alone (weekly, cohorts_build): CPU (process + PostgreSQL backend) median "
        f"{statistics.median(cpu) * 1000:.1f} ms, min {min(cpu) * 1000:.1f} ms ({runs} runs); load {stack.load_average()}"
    )
    export_started = time.perf_counter()
    assert client.get(f"/staff/onboarding/cohorts.csv?start={start}&end={end}&cohort=week").status_code == 200
    print(f"cohort CSV export (weekly): {(time.perf_counter() - export_started) * 1000:.0f} ms")


# --------------------------------------------------------------------------- 3. due messages


def bench_due_messages(scheduled: int, due: int) -> None:
    step = LifecycleStep.objects.create(
        key=f"bench-{RUN}", name="Bench step", trigger_milestone=MilestoneKey.FIRST_PATIENT,
        recipient_permission="manage_team", action_path="/patients/",
    )  # fmt: skip
    LifecycleStepText.objects.create(
        step=step, language="en", subject="Hello {{ recipient_name }}",
        body="{{ practice_name }}: {{ action_url }}\n{{ referral_link }}\n{{ unsubscribe_url }}",
    )  # fmt: skip
    owners = list(
        Membership.objects.filter(role=Role.OWNER, user__email__endswith=f"-{RUN}@bench.example")
        .select_related("practice")
        .order_by("pk")[:scheduled]
    )
    assert len(owners) == scheduled, f"need {scheduled} owners, have {len(owners)}"
    LifecycleMessage.objects.bulk_create(
        (
            LifecycleMessage(
                practice_id=membership.practice_id,
                step=step,
                recipient_id=membership.user_id,
                due_at=NOON - datetime.timedelta(minutes=1) if number < due else NOON + datetime.timedelta(days=2),
            )
            for number, membership in enumerate(owners)
        ),
        batch_size=5000,
    )
    started = time.perf_counter()
    run = lifecycle_send_due(limit=scheduled, now=NOON)
    elapsed = time.perf_counter() - started
    sent = LifecycleMessage.objects.filter(step=step, status=LifecycleMessageStatus.SENT).count()
    assert sent == due, (sent, run.outcomes)
    print(
        f"due-message task: {scheduled:,} scheduled, {due:,} due: all {sent:,} sent in {elapsed:.1f} s "
        f"({sent / elapsed:.0f}/s, one process, file mail backend); outcomes {run.outcomes}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--per-block", type=int, default=50)
    parser.add_argument("--practices", type=int, default=10_000)
    parser.add_argument("--extra-practices", type=int, default=2_200)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--only", choices=["patients", "cohorts", "messages"])
    options = parser.parse_args()
    stack.database_migrate()
    existing = Practice.objects.exclude(schema_name="public").count()
    if existing and options.only != "patients":
        print(f"note: {existing:,} practices already in {DATA_DIR}: the cohort figures include them")
    if options.only in (None, "patients"):
        bench_patient_create(options.blocks, options.per_block)
    if options.only in (None, "cohorts", "messages"):
        client = seed_cohorts(options.practices, options.extra_practices)
        if options.only in (None, "cohorts"):
            bench_cohort_page(client, options.runs)
        if options.only in (None, "messages"):
            bench_due_messages(10_000, 1_000)


if __name__ == "__main__":
    main()
