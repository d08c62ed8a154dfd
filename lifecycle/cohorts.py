"""The staff cohort figures: practices by signup week or month, the share that reached each
milestone by day 1 / 7 / 30, and the median and 75th percentile of the time to first value
(activation), split by how the practice came: referral link, invitation, partner code, staff
attribution, organic (the source of the referral that brought the practice, else organic).

A practice restored from an archive counts as the practice it was restored from (its original
signup): once, in that signup's cohort and channel, with each milestone once (_practices_sql,
_restored_reached_sql); a deleted practice still counts in its cohort. Two set-based queries in PostgreSQL
(GROUPING SETS give the per-channel rows and the cohort's all-channels row at once, percentiles
included), whatever the number of practices."""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from dentaltap.formatting import percent
from onboarding.models import MilestoneKey, PracticeMilestone
from referrals.models import Referral, ReferralSource
from rewards.analytics import DateRange
from tenants.models import Practice

ALL_CHANNELS = "all"
ORGANIC = "organic"
CHANNEL_LABELS: dict[str, Promise] = {
    ALL_CHANNELS: _("All channels"),
    ReferralSource.LINK: _("Referral link"),
    ReferralSource.INVITATION: _("Invitation"),
    ReferralSource.PARTNER: _("Partner code"),
    ReferralSource.MANUAL: _("Staff attribution"),
    ORGANIC: _("Organic"),
}
FIRST_VALUE_KEY = MilestoneKey.ACTIVATED
DAYS = (1, 7, 30)
# The columns of the page and the export, in the order of a practice's path.
MILESTONE_COLUMNS: tuple[str, ...] = tuple(key for key in MilestoneKey.values if key != MilestoneKey.PRACTICE_CREATED)


@dataclass
class MilestoneFigures:
    reached_by_day: dict[int, int] = field(default_factory=dict)  # day → practices


@dataclass
class CohortRow:
    cohort: datetime.date
    channel: str
    practices: int
    milestones: dict[str, MilestoneFigures] = field(default_factory=dict)
    first_value_median_hours: float | None = None
    first_value_p75_hours: float | None = None

    @property
    def first_value_median_days(self) -> float | None:
        return None if self.first_value_median_hours is None else self.first_value_median_hours / 24

    @property
    def first_value_p75_days(self) -> float | None:
        return None if self.first_value_p75_hours is None else self.first_value_p75_hours / 24

    @property
    def channel_label(self) -> str:
        return str(CHANNEL_LABELS.get(self.channel, self.channel))

    def share(self, key: str, day: int) -> float | None:
        if not self.practices:
            return None
        figures = self.milestones.get(key)
        return (figures.reached_by_day.get(day, 0) if figures else 0) / self.practices

    def shares(self) -> list[tuple[str, list[float | None]]]:
        return [(key, [self.share(key, day) for day in DAYS]) for key in MILESTONE_COLUMNS]

    def cells(self) -> list[tuple[str, str]]:
        """Each milestone's shares by day 1 · 7 · 30, as the page shows them (formatted once per
        distinct value: a weekly year is thousands of percentages)."""
        return [(key, " · ".join(_percent(share) for share in shares)) for key, shares in self.shares()]


@functools.lru_cache(maxsize=1024)
def _percent_in(language: str, share: float | None) -> str:
    return percent(share)


def _percent(share: float | None) -> str:
    return _percent_in(get_language() or "", None if share is None else round(share, 4))


def _practices_sql() -> str:
    practice = connection.ops.quote_name(Practice._meta.db_table)
    referral = connection.ops.quote_name(Referral._meta.db_table)
    # A practice restored from an archive is the same practice as its original signup
    # (Practice.restored_from): only originals are rows here, in their signup cohort, a deleted
    # one (a tombstone) included: history stays. One channel per practice: the referral that
    # brought its signup (the first, should a practice ever hold two), else the one a restore
    # moved to its restored practice, else organic.
    return (
        "SELECT p.id, p.created_at, date_trunc(%(period)s, p.created_at AT TIME ZONE %(tz)s)::date AS cohort, "  # noqa: S608 - quoted names only
        "COALESCE(r.source, %(organic)s) AS channel "
        f"FROM {practice} p LEFT JOIN (SELECT DISTINCT ON (COALESCE(x.restored_from_id, referred_practice_id)) "
        "COALESCE(x.restored_from_id, referred_practice_id) AS original_id, source "
        f"FROM {referral} LEFT JOIN (SELECT id, restored_from_id FROM {practice} WHERE restored_from_id IS NOT NULL) x "
        "ON x.id = referred_practice_id WHERE referred_practice_id IS NOT NULL "
        "ORDER BY COALESCE(x.restored_from_id, referred_practice_id), x.id IS NOT NULL, x.id, "
        f"{referral}.id) r ON r.original_id = p.id "
        "WHERE p.schema_name <> %(public)s AND p.restored_from_id IS NULL "
        "AND p.created_at >= %(start)s AND p.created_at < %(end)s"
    )


def _restored_sql() -> str:
    """The restored practices of the originals in range, with their original's cohort, channel
    and signup time (a handful of rows, by the partial index on restored_from)."""
    practice = connection.ops.quote_name(Practice._meta.db_table)
    return (
        "SELECT x.id, x.restored_from_id AS original_id, p.cohort, p.channel, p.created_at "  # noqa: S608 - quoted names only
        f"FROM {practice} x JOIN p ON p.id = x.restored_from_id WHERE x.restored_from_id IS NOT NULL"
    )


def _restored_reached_sql(*, first_value_only: bool) -> str:
    """The milestones restored practices reached that neither their original nor an earlier
    restore of it holds (a restore copies the archive's milestones, with their times: those are
    the original's; what it reaches afterwards is new), as the original's: (cohort, channel, key,
    took), the time taken counted from the original signup. Index lookups per restored practice
    (OFFSET 0 keeps the planner from trading them for a scan of every milestone)."""
    practice = connection.ops.quote_name(Practice._meta.db_table)
    milestone = connection.ops.quote_name(PracticeMilestone._meta.db_table)
    only = " AND m.key = %(first_value)s" if first_value_only else ""
    return (
        "SELECT x.cohort, x.channel, m.key, m.reached_at - x.created_at AS took "  # noqa: S608 - quoted names only
        f"FROM restored x CROSS JOIN LATERAL (SELECT m.key, m.reached_at FROM {milestone} m "
        f"WHERE m.practice_id = x.id{only} OFFSET 0) m "
        f"WHERE NOT EXISTS (SELECT 1 FROM {milestone} e WHERE e.practice_id = x.original_id AND e.key = m.key) "
        f"AND NOT EXISTS (SELECT 1 FROM {practice} y JOIN {milestone} e ON e.practice_id = y.id AND e.key = m.key "
        "WHERE y.restored_from_id = x.original_id AND y.id < x.id)"
    )


def _cohorts_sql() -> str:
    """One statement, three kinds of rows: practices per (cohort, channel); milestones reached
    by day 1/7/30 per (cohort, channel, key) (a hash aggregate: no sort of the joined rows; what
    restored practices added comes as rows of its own, summed in cohorts_build); and the
    time-to-first-value percentiles over the activated practices only, per channel and for the
    whole cohort (GROUPING SETS)."""
    milestone = connection.ops.quote_name(PracticeMilestone._meta.db_table)
    by_day = ", ".join(f"count(*) FILTER (WHERE m.reached_at - p.created_at <= interval '{day} days')" for day in DAYS)
    restored_by_day = ", ".join(f"count(*) FILTER (WHERE m.took <= interval '{day} days')" for day in DAYS)
    nulls = ", ".join("NULL::bigint" for _day in DAYS)
    took = "extract(epoch FROM m.took)"
    return (
        f"WITH p AS MATERIALIZED ({_practices_sql()}), restored AS MATERIALIZED ({_restored_sql()}) "  # noqa: S608 - quoted names and constants only
        f"SELECT 'practices', cohort, channel, NULL, count(*), {nulls}, NULL::float8, NULL::float8 "
        "FROM p GROUP BY cohort, channel "
        "UNION ALL "
        f"SELECT 'milestones', p.cohort, p.channel, m.key, NULL, {by_day}, NULL, NULL "
        f"FROM p JOIN {milestone} m ON m.practice_id = p.id GROUP BY p.cohort, p.channel, m.key "
        "UNION ALL "
        f"SELECT 'milestones', m.cohort, m.channel, m.key, NULL, {restored_by_day}, NULL, NULL "
        f"FROM ({_restored_reached_sql(first_value_only=False)}) m GROUP BY m.cohort, m.channel, m.key "
        "UNION ALL "
        f"SELECT 'first_value', m.cohort, COALESCE(m.channel, %(all)s), NULL, NULL, {nulls}, "
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {took}), "
        f"percentile_cont(0.75) WITHIN GROUP (ORDER BY {took}) "
        "FROM (SELECT p.cohort, p.channel, m.reached_at - p.created_at AS took "
        f"FROM p JOIN {milestone} m ON m.practice_id = p.id AND m.key = %(first_value)s "
        f"UNION ALL SELECT cohort, channel, took FROM ({_restored_reached_sql(first_value_only=True)}) r) m "
        "GROUP BY GROUPING SETS ((m.cohort, m.channel), (m.cohort))"
    )


def cohorts_build(*, period_range: DateRange) -> list[CohortRow]:
    """Rows per (cohort, channel), each cohort's all-channels row first."""
    params = {
        "period": "week" if period_range.cohort == "week" else "month",
        "tz": settings.TIME_ZONE,
        "organic": ORGANIC,
        "public": settings.PUBLIC_SCHEMA_NAME,
        "start": period_range.start_at,
        "end": period_range.end_before,
        "first_value": FIRST_VALUE_KEY,
        "all": ALL_CHANNELS,
    }
    with connection.cursor() as cursor:
        cursor.execute(_cohorts_sql(), params)
        results = cursor.fetchall()
    rows: dict[tuple[datetime.date, str], CohortRow] = {}

    def row_for(cohort: datetime.date, channel: str) -> CohortRow:
        if (cohort, channel) not in rows:
            rows[(cohort, channel)] = CohortRow(cohort=cohort, channel=channel, practices=0)
        return rows[(cohort, channel)]

    for kind, cohort, channel, key, count, *rest in results:
        by_day, (median, p75) = rest[: len(DAYS)], rest[len(DAYS) :]
        if kind == "practices":
            for name in (channel, ALL_CHANNELS):
                row_for(cohort, name).practices += count
        elif kind == "milestones":
            for name in (channel, ALL_CHANNELS):
                figures = row_for(cohort, name).milestones.setdefault(key, MilestoneFigures())
                for day, reached in zip(DAYS, by_day, strict=True):
                    figures.reached_by_day[day] = figures.reached_by_day.get(day, 0) + reached
        else:
            row = row_for(cohort, channel)
            row.first_value_median_hours = None if median is None else float(median) / 3600
            row.first_value_p75_hours = None if p75 is None else float(p75) / 3600
    order = {
        ALL_CHANNELS: 0,
        ReferralSource.LINK: 1,
        ReferralSource.INVITATION: 2,
        ReferralSource.PARTNER: 3,
        ReferralSource.MANUAL: 4,
        ORGANIC: 5,
    }
    return sorted(rows.values(), key=lambda row: (row.cohort, order.get(row.channel, 9), row.channel))


def cohort_csv_rows(rows: list[CohortRow]) -> list[list[object]]:
    header: list[object] = ["cohort", "channel", "practices"]
    for key in MILESTONE_COLUMNS:
        header += [f"{key}_day_{day}" for day in DAYS]
    header += ["time_to_first_value_median_hours", "time_to_first_value_p75_hours"]
    lines: list[list[object]] = [header]
    for row in rows:
        line: list[object] = [row.cohort.isoformat(), row.channel, row.practices]
        for key in MILESTONE_COLUMNS:
            figures = row.milestones.get(key)
            line += [figures.reached_by_day.get(day, 0) if figures else 0 for day in DAYS]
        line += [
            "" if row.first_value_median_hours is None else round(row.first_value_median_hours, 2),
            "" if row.first_value_p75_hours is None else round(row.first_value_p75_hours, 2),
        ]
        lines.append(line)
    return lines
