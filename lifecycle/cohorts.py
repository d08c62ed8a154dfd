"""The staff cohort figures: practices by signup week or month, the share that reached each
milestone by day 1 / 7 / 30, and the median and 75th percentile of the time to first value
(activation), split by how the practice came: referral link, invitation, organic. (Partner codes
come with issue 9; their channel will be one more value of `channel`.)

Two set-based queries in PostgreSQL (GROUPING SETS give the per-channel rows and the cohort's
all-channels row at once, percentiles included), whatever the number of practices."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from onboarding.models import MilestoneKey, PracticeMilestone
from referrals.analytics import DateRange
from referrals.models import Referral, ReferralSource
from tenants.models import Practice

ALL_CHANNELS = "all"
ORGANIC = "organic"
CHANNEL_LABELS: dict[str, Promise] = {
    ALL_CHANNELS: _("All channels"),
    ReferralSource.LINK: _("Referral link"),
    ReferralSource.INVITATION: _("Invitation"),
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


def _practices_sql() -> str:
    practice = connection.ops.quote_name(Practice._meta.db_table)
    referral = connection.ops.quote_name(Referral._meta.db_table)
    # One channel per practice: the referral that brought its signup (first one, should a
    # practice ever hold two), else organic.
    return (
        f"SELECT p.id, p.created_at, date_trunc(%(period)s, p.created_at AT TIME ZONE %(tz)s)::date AS cohort, "  # noqa: S608
        f"COALESCE((SELECT r.source FROM {referral} r WHERE r.referred_practice_id = p.id ORDER BY r.id LIMIT 1), "
        f"%(organic)s) AS channel FROM {practice} p "
        "WHERE p.schema_name <> %(public)s AND p.created_at >= %(start)s AND p.created_at < %(end)s"
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
    }
    practices = _practices_sql()
    milestone = connection.ops.quote_name(PracticeMilestone._meta.db_table)
    day_filters = ", ".join(
        f"count(*) FILTER (WHERE m.reached_at - p.created_at <= interval '{day} days')" for day in DAYS
    )
    rows: dict[tuple[datetime.date, str], CohortRow] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH p AS ({practices}) SELECT cohort, COALESCE(channel, %(all)s), count(*) FROM p "  # noqa: S608
            "GROUP BY GROUPING SETS ((cohort, channel), (cohort))",
            {**params, "all": ALL_CHANNELS},
        )
        for cohort, channel, count in cursor.fetchall():
            rows[(cohort, channel)] = CohortRow(cohort=cohort, channel=channel, practices=count)
        cursor.execute(
            f"WITH p AS ({practices}) "  # noqa: S608 - quoted names and constants only
            f"SELECT p.cohort, COALESCE(p.channel, %(all)s), m.key, {day_filters}, "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM m.reached_at - p.created_at)) "
            "FILTER (WHERE m.key = %(first_value)s), "
            "percentile_cont(0.75) WITHIN GROUP (ORDER BY extract(epoch FROM m.reached_at - p.created_at)) "
            "FILTER (WHERE m.key = %(first_value)s) "
            f"FROM p JOIN {milestone} m ON m.practice_id = p.id "
            "GROUP BY GROUPING SETS ((p.cohort, p.channel, m.key), (p.cohort, m.key))",
            {**params, "all": ALL_CHANNELS},
        )
        for cohort, channel, key, *figures in cursor.fetchall():
            row = rows.get((cohort, channel))
            if row is None:
                continue
            by_day, (median, p75) = figures[: len(DAYS)], figures[len(DAYS) :]
            row.milestones[key] = MilestoneFigures(reached_by_day=dict(zip(DAYS, by_day, strict=True)))
            if key == FIRST_VALUE_KEY:
                row.first_value_median_hours = None if median is None else float(median) / 3600
                row.first_value_p75_hours = None if p75 is None else float(p75) / 3600
    order = {ALL_CHANNELS: 0, ReferralSource.LINK: 1, ReferralSource.INVITATION: 2, ORGANIC: 3}
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
