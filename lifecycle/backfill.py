"""Derive the milestones of existing practices from their data (manage.py onboarding_backfill).

Public-schema facts (invitations, memberships, payments) are derived for every practice in a few
set-based INSERT ... SELECT statements; patient and appointment facts need one query in each
practice's schema. Everything goes through ON CONFLICT DO NOTHING, so a milestone already
recorded (live or by an earlier run) keeps its time and a re-run changes nothing. Nothing is
announced (rows are born "told"): lifecycle emails are for what happens now, not history."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from billing.models import Payment
from dentaltap.progress import Progress
from invitations.models import Invitation
from onboarding.models import MilestoneKey, PracticeMilestone
from onboarding.services import activation_rule
from practice.models import Appointment, AppointmentStatus, Patient
from provisioning.services import DELETED_SCHEMA_PREFIX
from tenants.models import JoinedVia, Membership, Practice


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _milestones_table() -> str:
    return f"{_quote(settings.PUBLIC_SCHEMA_NAME)}.{_quote(PracticeMilestone._meta.db_table)}"


def _insert_select(key: str, select_sql: str, params: list[Any]) -> int:
    """INSERT the (practice_id, reached_at) pairs a SELECT gives as milestone `key`."""
    sql = (
        f"INSERT INTO {_milestones_table()} (practice_id, key, reached_at, notified_at) "  # noqa: S608 - constants only
        f"SELECT practice_id, %s, reached_at, now() FROM ({select_sql}) derived WHERE reached_at IS NOT NULL "
        "ON CONFLICT (practice_id, key) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, *params])
        return cursor.rowcount


def public_milestones_backfill() -> dict[str, int]:
    """The milestones the public schema can tell, for every practice at once."""
    practice = _quote(Practice._meta.db_table)
    invitation = _quote(Invitation._meta.db_table)
    membership = _quote(Membership._meta.db_table)
    payment = _quote(Payment._meta.db_table)
    public = settings.PUBLIC_SCHEMA_NAME
    # S608 below: table names come from the models, values are parameters.
    queries: list[tuple[str, str, list[Any]]] = [
        (
            MilestoneKey.PRACTICE_CREATED,
            f"SELECT id AS practice_id, created_at AS reached_at FROM {practice} WHERE schema_name <> %s",  # noqa: S608
            [public],
        ),
        (
            MilestoneKey.FIRST_COLLEAGUE_INVITED,
            f"SELECT practice_id, min(created_at) AS reached_at FROM {invitation} GROUP BY practice_id",  # noqa: S608
            [],
        ),
        (
            MilestoneKey.FIRST_REFERRAL_SENT,
            f"SELECT practice_id, min(sent_at) AS reached_at FROM {invitation} GROUP BY practice_id",  # noqa: S608
            [],
        ),
        (
            MilestoneKey.FIRST_COLLEAGUE_JOINED,
            f"SELECT practice_id, min(created_at) AS reached_at FROM {membership} "  # noqa: S608
            "WHERE joined_via <> %s GROUP BY practice_id",
            [JoinedVia.CREATED_PRACTICE],
        ),
        (
            MilestoneKey.FIRST_PAYMENT,
            f"SELECT practice_id, min(paid_at) AS reached_at FROM {payment} GROUP BY practice_id",  # noqa: S608
            [],
        ),
    ]
    return {key: _insert_select(key, sql, params) for key, sql, params in queries}


@dataclass(frozen=True)
class PracticeFacts:
    first_patient: datetime.datetime | None
    nth_patient: datetime.datetime | None
    first_appointment: datetime.datetime | None
    nth_completed: datetime.datetime | None


def _practice_facts(schema: str, *, minimum_patients: int, minimum_completed: int) -> PracticeFacts:
    patient = f"{_quote(schema)}.{_quote(Patient._meta.db_table)}"
    appointment = f"{_quote(schema)}.{_quote(Appointment._meta.db_table)}"
    # A completed visit's completion time is not stored: its last change (updated_at) is the
    # nearest fact, and never earlier than the truth.
    sql = (
        f"SELECT (SELECT min(created_at) FROM {patient}), "  # noqa: S608 - quoted names only
        f"(SELECT created_at FROM {patient} ORDER BY created_at OFFSET %s LIMIT 1), "
        f"(SELECT min(created_at) FROM {appointment}), "
        f"(SELECT updated_at FROM {appointment} WHERE status = %s ORDER BY updated_at OFFSET %s LIMIT 1)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [max(minimum_patients - 1, 0), AppointmentStatus.COMPLETED, max(minimum_completed - 1, 0)])
        row = cursor.fetchone()
    return PracticeFacts(*row)


def _first_completed(schema: str) -> datetime.datetime | None:
    appointment = f"{_quote(schema)}.{_quote(Appointment._meta.db_table)}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT min(updated_at) FROM {appointment} WHERE status = %s",  # noqa: S608 - quoted names only
            [AppointmentStatus.COMPLETED],
        )
        return cursor.fetchone()[0]


def _insert_values(practice_id: int, values: Iterable[tuple[str, datetime.datetime | None]]) -> int:
    rows = [(practice_id, key, at) for key, at in values if at is not None]
    if not rows:
        return 0
    placeholders = ", ".join(["(%s, %s, %s, now())"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_milestones_table()} (practice_id, key, reached_at, notified_at) VALUES {placeholders} "  # noqa: S608
            "ON CONFLICT (practice_id, key) DO NOTHING",
            [value for row in rows for value in row],
        )
        return cursor.rowcount


def practice_milestones_backfill(practice: Practice) -> int:
    """Patient and appointment milestones of one practice, and its activation: the moment the
    rule was met (the n-th patient, the n-th completed visit, the required milestones), if that
    was inside the rule's window. Returns how many milestones were added."""
    rule = activation_rule(fresh=True)
    facts = _practice_facts(
        practice.schema_name,
        minimum_patients=rule.minimum_patients,
        minimum_completed=rule.minimum_completed_appointments,
    )
    values: list[tuple[str, datetime.datetime | None]] = [
        (MilestoneKey.FIRST_PATIENT, facts.first_patient),
        (MilestoneKey.FIRST_APPOINTMENT_BOOKED, facts.first_appointment),
        (MilestoneKey.FIRST_APPOINTMENT_COMPLETED, _first_completed(practice.schema_name)),
    ]
    added = _insert_values(practice.pk, values)
    reached = dict(PracticeMilestone.objects.filter(practice=practice).values_list("key", "reached_at"))
    moments: list[datetime.datetime | None] = [reached.get(key) for key in rule.required_milestones]
    if rule.minimum_patients:
        moments.append(facts.nth_patient)
    if rule.minimum_completed_appointments:
        moments.append(facts.nth_completed)
    deadline = practice.created_at + datetime.timedelta(days=rule.within_days)
    if moments and all(moment is not None for moment in moments):
        activated_at = max(moment for moment in moments if moment is not None)
        if activated_at <= deadline:
            added += _insert_values(practice.pk, [(MilestoneKey.ACTIVATED, activated_at)])
    return added


def onboarding_backfill(*, progress: bool = True, stream: TextIO | None = None) -> dict[str, int]:
    """Every practice: public facts first (set-based), then one pass through the schemas."""
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    counts = public_milestones_backfill()
    practices = list(
        Practice.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
        .exclude(schema_name__startswith=DELETED_SCHEMA_PREFIX)
        .order_by("pk")
    )
    bar = Progress(len(practices), "milestones", stream=stream) if progress else None
    from_schemas = failed = 0
    for practice in practices:
        try:
            with transaction.atomic():
                from_schemas += practice_milestones_backfill(practice)
        except DatabaseError:  # one broken schema must not stop the others; counted at the end
            failed += 1
            if bar:
                bar.advance(failed=1)
            continue
        if bar:
            bar.advance()
    if bar:
        bar.finish()
    counts["from_practice_schemas"] = from_schemas
    counts["failed_practices"] = failed
    return counts
