"""Recording milestones and deciding activation. Milestones live in the public schema; the
callers (patient and appointment services among them) run in a practice's schema, so every call
names the practice explicitly."""

from __future__ import annotations

import datetime
import logging
import time

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from dentaltap.errors import ApplicationError
from onboarding import hooks
from onboarding.models import ActivationRule, ChecklistPreference, MilestoneKey, PracticeMilestone
from tenants.models import Membership, Practice, Role

logger = logging.getLogger(__name__)

# Milestones are written once and never moved or deleted (short of deleting the practice, whose
# id PostgreSQL never hands out again), so "this process already saw (practice, key) stored" stays
# true: the hot paths (every patient created) skip the INSERT after the first time. Bounded.
_KNOWN_LIMIT = 100_000
_known: set[tuple[int, str]] = set()
_KEYS = frozenset(MilestoneKey.values)  # the enum's .values builds a list (with labels) per call


def milestone_cache_clear() -> None:
    """Forget what this process has seen stored (tests roll the database back between tests)."""
    _known.clear()
    _snapshots.clear()
    _created_at.clear()
    _rule_cache.clear()


def _remember(practice_id: int, key: str) -> None:
    if len(_known) >= _KNOWN_LIMIT:
        _known.clear()
    _known.add((practice_id, key))


def milestone_record(*, practice_id: int, key: str, at: datetime.datetime | None = None) -> None:
    """Record that the practice reached `key` (at `at`, default now), after the caller's
    transaction commits; at once when there is none. A rolled-back action records nothing; a
    failing write is logged and never fails the action (robust on_commit). Reaching a milestone
    may activate the practice (activation_evaluate)."""
    if key not in _KEYS:
        raise ValueError(f"unknown milestone {key!r}")
    moment = at or timezone.now()
    transaction.on_commit(lambda: _milestone_record_now(practice_id, key, moment), robust=True)


def _milestone_record_now(practice_id: int, key: str, at: datetime.datetime) -> None:
    milestone_write(practice_id=practice_id, key=key, at=at)
    # Any later milestone (or a repeat of one: the third patient) may complete the rule.
    if key not in (MilestoneKey.ACTIVATED, MilestoneKey.PRACTICE_CREATED):
        activation_evaluate(practice_id=practice_id)


def _milestones_table() -> str:
    quote = connection.ops.quote_name
    return f"{quote(settings.PUBLIC_SCHEMA_NAME)}.{quote(PracticeMilestone._meta.db_table)}"


def _reached_keys(practice_id: int) -> set[str]:
    # Written out: the ORM's compilation (with the model's ordering) cost several times the query.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key FROM {_milestones_table()} WHERE practice_id = %s", [practice_id])  # noqa: S608
        return {str(key) for (key,) in cursor.fetchall()}


# What this process last read of a young practice's milestones, and when (monotonic clock).
# Milestones are never removed, so everything a snapshot holds stays true; what it lacks may have
# been recorded since by another process. activation_evaluate trusts a snapshot younger than
# ONBOARDING_MILESTONE_SNAPSHOT_SECONDS to say "not yet", so a young practice's patient creates
# cost no query (issue 12's figure). The one case that trust can miss: another process recorded
# the last missing milestone within that interval, its own check ran before this action
# committed, and this check used a snapshot older than the milestone. The beat job
# activation_sweep re-checks, with fresh reads, every practice that recorded a milestone in the
# last ONBOARDING_ACTIVATION_SWEEP_WITHIN_SECONDS (longer than the snapshot's life plus the beat
# interval), so that activation is recorded by the next sweep instead of never.
_snapshots: dict[int, tuple[float, frozenset[str]]] = {}


def _reached_keys_recent(practice_id: int, *, fresh: bool) -> set[str]:
    snapshot = _snapshots.get(practice_id)
    now = time.monotonic()
    if fresh or snapshot is None or now - snapshot[0] >= settings.ONBOARDING_MILESTONE_SNAPSHOT_SECONDS:
        keys = frozenset(_reached_keys(practice_id))  # the clock was read before the query: conservative
        if len(_snapshots) >= _KNOWN_LIMIT:
            _snapshots.clear()
        _snapshots[practice_id] = (now, keys)
    else:
        keys = snapshot[1]
    # What this process wrote or saw stored since is known for sure.
    return set(keys) | {key for key in _KEYS if (practice_id, key) in _known}


_INSERT_SQL = (
    "INSERT INTO {table} (practice_id, key, reached_at, notified_at) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (practice_id, key) DO NOTHING RETURNING id"
)


def milestone_write(*, practice_id: int, key: str, at: datetime.datetime, notify: bool = True) -> bool:
    """The one write: insert the milestone unless it exists (the unique constraint decides
    races). Returns True if this call recorded it; then the listeners hear of it, and the row is
    marked told once they all succeeded (else milestones_notify_missed tells them later). With
    `notify` off (the backfill derives history, it does not announce it) the row is born told."""
    if (practice_id, key) in _known:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_SQL.format(table=_milestones_table()), [practice_id, key, at, None if notify else timezone.now()]
        )
        row = cursor.fetchone()
    _remember(practice_id, key)
    if row is None:
        return False
    logger.info("practice %s reached %s", practice_id, key)
    if notify:
        _listeners_tell(
            milestone_id=row[0], event=hooks.MilestoneReached(practice_id=practice_id, key=key, reached_at=at)
        )
    return True


def _listeners_tell(*, milestone_id: int, event: hooks.MilestoneReached) -> bool:
    if hooks.milestone_reached_notify(event):
        PracticeMilestone.objects.filter(pk=milestone_id).update(notified_at=timezone.now())
        return True
    return False


def milestones_notify_missed(*, owed_for_seconds: int, give_up_after_hours: int, limit: int = 500) -> int:
    """Tell the listeners of milestones a process recorded but died (or a listener failed)
    before telling: owed for at least `owed_for_seconds` (a live process is still at it before
    that), recorded in the last `give_up_after_hours`. Listeners must be idempotent (lifecycle
    scheduling is: one row per practice, step and recipient). Returns how many were told."""
    now = timezone.now()
    owed = PracticeMilestone.objects.filter(
        notified_at__isnull=True,
        recorded_at__lte=now - datetime.timedelta(seconds=owed_for_seconds),
        recorded_at__gte=now - datetime.timedelta(hours=give_up_after_hours),
    ).order_by("recorded_at")[:limit]
    told = 0
    for milestone in owed:
        event = hooks.MilestoneReached(
            practice_id=milestone.practice_id, key=milestone.key, reached_at=milestone.reached_at
        )
        told += _listeners_tell(milestone_id=milestone.pk, event=event)
    return told


# The rule is read at most once a minute per process (staff edits apply within a minute), and a
# practice's signup time never changes: a practice past its window costs no query per change.
_RULE_TTL_SECONDS = 60.0
_rule_cache: list[tuple[float, ActivationRule]] = []
_created_at: dict[int, datetime.datetime] = {}


def activation_rule(*, fresh: bool = False) -> ActivationRule:
    if not fresh and _rule_cache and time.monotonic() - _rule_cache[0][0] < _RULE_TTL_SECONDS:
        return _rule_cache[0][1]
    rule = ActivationRule.objects.filter(pk=1).first() or ActivationRule(pk=1)
    _rule_cache[:] = [(time.monotonic(), rule)]
    return rule


def activation_rule_forget() -> None:
    _rule_cache.clear()


def _practice_created_at(practice_id: int) -> datetime.datetime | None:
    if practice_id not in _created_at:
        created_at = Practice.objects.filter(pk=practice_id).values_list("created_at", flat=True).first()
        if created_at is None:
            return None
        if len(_created_at) >= _KNOWN_LIMIT:
            _created_at.clear()
        _created_at[practice_id] = created_at
    return _created_at[practice_id]


def activation_evaluate(*, practice_id: int, now: datetime.datetime | None = None, fresh: bool = False) -> bool:  # noqa: PLR0911
    """Record `activated` if the practice meets the activation rule now, inside the rule's window
    after signup. Returns True if this call activated it. Cheap once activated (no query), and
    while a recent snapshot of the practice's milestones says the rule cannot be met yet (see
    _snapshots); `fresh` reads the milestones again (activation_sweep)."""
    if (practice_id, MilestoneKey.ACTIVATED) in _known:
        return False
    now = now or timezone.now()
    created_at = _practice_created_at(practice_id)
    rule = activation_rule()
    if created_at is None or now > created_at + datetime.timedelta(days=rule.within_days):
        return False
    keys = _reached_keys_recent(practice_id, fresh=fresh)
    if MilestoneKey.ACTIVATED in keys:
        _remember(practice_id, MilestoneKey.ACTIVATED)
        return False
    if not set(rule.required_milestones) <= keys:
        return False
    # The milestones bound the counts from below for free: no first patient (or completed
    # visit) yet means the count is zero, so there is nothing to count in the practice's schema.
    if rule.minimum_patients and MilestoneKey.FIRST_PATIENT not in keys:
        return False
    if rule.minimum_completed_appointments and MilestoneKey.FIRST_APPOINTMENT_COMPLETED not in keys:
        return False
    if rule.minimum_patients or rule.minimum_completed_appointments:
        facts = hooks.activation_facts(practice_id)
        if facts is None:
            return False
        if facts.patients < rule.minimum_patients or facts.completed_appointments < rule.minimum_completed_appointments:
            return False
    return milestone_write(practice_id=practice_id, key=MilestoneKey.ACTIVATED, at=now)


def _rule_needs(rule: ActivationRule) -> set[str]:
    """The milestones without which the rule cannot be met (the counts need their first one)."""
    needed = set(rule.required_milestones)
    if rule.minimum_patients:
        needed.add(MilestoneKey.FIRST_PATIENT)
    if rule.minimum_completed_appointments:
        needed.add(MilestoneKey.FIRST_APPOINTMENT_COMPLETED)
    return needed


def activation_sweep(*, recorded_within_seconds: int, now: datetime.datetime | None = None) -> int:
    """Beat: check activation again, reading everything fresh, for every practice that recorded a
    milestone in the last `recorded_within_seconds` (the case a stale snapshot can miss; see
    _snapshots). Practices past their window or already activated cost no count. Returns how
    many this call activated.

    The window is judged by when the milestones happened, not when the sweep runs: the miss it
    repairs is a needed milestone (a required one, or the first patient / completed visit the
    counts stand on) recorded lately by another process, so the activation is judged, and dated,
    at the latest such milestone's recorded time (an activation at 13 d 23 h 59 min swept after
    the 14 days is recorded, once). Without a needed milestone recorded lately (a later one
    merely brought the practice into the sweep) it is judged at the sweep's time, as before."""
    now = now or timezone.now()
    since = now - datetime.timedelta(seconds=recorded_within_seconds)
    needed = _rule_needs(activation_rule())
    recent = PracticeMilestone.objects.filter(recorded_at__gte=since).values("practice_id")
    candidates = (
        PracticeMilestone.objects.filter(practice_id__in=recent)
        .exclude(practice__milestones__key=MilestoneKey.ACTIVATED)
        .values("practice_id")
        .annotate(needed_at=Max("recorded_at", filter=Q(key__in=needed, recorded_at__gte=since)))
        .order_by("practice_id")
        .values_list("practice_id", "needed_at")
    )
    return sum(
        activation_evaluate(practice_id=practice_id, now=needed_at or now, fresh=True)
        for practice_id, needed_at in candidates
    )


# --------------------------------------------------------------------------- the checklist


def checklist_hide(*, practice: Practice, membership: Membership | None) -> ChecklistPreference:
    """The owner hides the overview checklist for the practice (for every member)."""
    if membership is None or membership.practice_id != practice.pk or membership.role != Role.OWNER:
        raise ApplicationError(
            _("Only the practice owner can hide the getting-started checklist."), code="forbidden", status_code=403
        )
    preference, _created = ChecklistPreference.objects.update_or_create(
        practice=practice, defaults={"hidden_at": timezone.now()}
    )
    return preference
