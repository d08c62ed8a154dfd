"""The staff page's and API's report: every figure of a range, built once."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rewards.analytics.channel import channel_share_by_month, cohort_funnel, economics, top_referrers
from rewards.analytics.programs import breakdowns_build
from rewards.analytics.ranges import DateRange
from rewards.analytics.rows import ChannelRow

FIGURE_KEYS = {
    "channel_share": ("paying_practices", "referred_practices"),
    "cohorts": ("visits", "signups", "paid", "rewards_credited"),
}


def periods_with_data(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows from the first period with a figure to the last one (empty months inside the
    span stay: they are part of the story); none at all when every period is empty. For tables
    a person reads; the API keeps every period for charts."""
    filled = [index for index, row in enumerate(rows) if any(row[key] for key in keys)]
    return rows[filled[0] : filled[-1] + 1] if filled else []


@dataclass
class Analytics:
    period_range: DateRange
    channel_share: list[dict[str, Any]] = field(default_factory=list)
    cohorts: list[dict[str, Any]] = field(default_factory=list)
    economics: dict[str, Any] = field(default_factory=dict)
    top_referrers: list[dict[str, Any]] = field(default_factory=list)
    breakdowns: dict[str, list[ChannelRow]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.period_range.start.isoformat(),
            "end": self.period_range.end.isoformat(),
            "cohort": self.period_range.cohort,
            "channel_share": self.channel_share,
            "cohorts": self.cohorts,
            "economics": self.economics,
            "top_referrers": self.top_referrers,
            "by_program": [asdict(row) for row in self.breakdowns.get("program", [])],
            "by_partner": [asdict(row) for row in self.breakdowns.get("partner", [])],
            "by_rule": [asdict(row) for row in self.breakdowns.get("rule", [])],
        }


def analytics_build(*, period_range: DateRange) -> Analytics:
    cohorts = cohort_funnel(period_range=period_range)
    # The range's signups and paid are the cohorts' (mostly cached): the breakdown by program
    # reuses them, and its revenue statement gives the economics their referred revenue.
    totals = (sum(row["signups"] for row in cohorts), sum(row["paid"] for row in cohorts))
    breakdowns = breakdowns_build(period_range=period_range, totals=totals)
    return Analytics(
        period_range=period_range,
        channel_share=channel_share_by_month(period_range=period_range),
        cohorts=cohorts,
        economics=economics(period_range=period_range, revenue=(breakdowns.revenue_cents, breakdowns.paying_practices)),
        top_referrers=top_referrers(period_range=period_range),
        breakdowns=breakdowns.rows,
    )
