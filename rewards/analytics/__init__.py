"""Staff analytics of the referral channel: channel share, cohort funnel, economics, top
referrers, the breakdown by program, partner and rule, the fraud review queue and CSV exports.

Every figure is one grouped SQL aggregate over a date range (never a Python loop over rows).
"Paid" means the practice has a payment that was not refunded or disputed: the referral's
`converted_at`, kept whenever billing records or reverses a payment (rewards/conversions.py),
so no figure searches the payments for it.

Two figures grow with every visit and payment ever made: link visits per period and the
channel share per month. A period that is over and lies wholly inside the asked range is
computed once and cached (24 hours, per period): visits of a past period never change (a visit
is dated when it happens), and the month of a payment that is recorded or reversed is dropped
from the cache when that commits (`channel_share_forget`). The current period, and a period the
range cuts, is counted live on every view (issue 14).

One module a subject, everything importable from here: `ranges` (the date range, its form and
period helpers), `period_cache` (past periods counted once), `channel` (the channel's figures),
`programs` (the breakdown by program, partner and rule), `rows` (its rows, by partner too),
`review` (the fraud review queue), `report` (every figure of a range, for the page and the API)."""

from rewards.analytics.channel import (
    TOP_REFERRERS_LIMIT,
    channel_share_by_month,
    cohort_funnel,
    economics,
    referred_revenue,
    top_referrers,
    visits_by_period,
)
from rewards.analytics.period_cache import PERIOD_CACHE_SECONDS, channel_share_forget, cohort_forget
from rewards.analytics.programs import BREAKDOWNS, Breakdowns, breakdowns_build, program_signups
from rewards.analytics.ranges import (
    DEFAULT_MONTHS,
    EARLIEST,
    MAX_RANGE_DAYS,
    AnalyticsFilterForm,
    Cohort,
    DateRange,
    date_range_parse,
    default_range,
    has_paid,
    referred_practice_ids,
)
from rewards.analytics.report import FIGURE_KEYS, Analytics, analytics_build, periods_with_data
from rewards.analytics.review import REVIEW_QUEUE_LIMIT, review_queue
from rewards.analytics.rows import NO_PARTNER, ChannelRow, roi

__all__ = [
    "BREAKDOWNS",
    "DEFAULT_MONTHS",
    "EARLIEST",
    "FIGURE_KEYS",
    "MAX_RANGE_DAYS",
    "NO_PARTNER",
    "PERIOD_CACHE_SECONDS",
    "REVIEW_QUEUE_LIMIT",
    "TOP_REFERRERS_LIMIT",
    "Analytics",
    "AnalyticsFilterForm",
    "Breakdowns",
    "ChannelRow",
    "Cohort",
    "DateRange",
    "analytics_build",
    "breakdowns_build",
    "channel_share_by_month",
    "channel_share_forget",
    "cohort_forget",
    "cohort_funnel",
    "date_range_parse",
    "default_range",
    "economics",
    "has_paid",
    "periods_with_data",
    "program_signups",
    "referred_practice_ids",
    "referred_revenue",
    "review_queue",
    "roi",
    "top_referrers",
    "visits_by_period",
]
