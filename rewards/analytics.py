"""Staff analytics of the referral channel: channel share, cohort funnel, economics, top
referrers, the fraud review queue and CSV exports.

Every figure is one grouped SQL aggregate over a date range (never a Python loop over rows).
"Paid" means the practice has a payment that was not refunded or disputed: the referral's
`converted_at`, kept whenever billing records or reverses a payment (rewards/conversions.py),
so no figure searches the payments for it.

Two figures grow with every visit and payment ever made: link visits per period and the
channel share per month. A period that is over and lies wholly inside the asked range is
computed once and cached (24 hours, per period): visits of a past period never change (a visit
is dated when it happens), and the month of a payment that is recorded or reversed is dropped
from the cache when that commits (`channel_share_forget`). The current period, and a period the
range cuts, is counted live on every view (issue 14)."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tenants.utils import get_public_schema_name, schema_context

from billing.models import LedgerEntry, LedgerKind
from dentaltap import formatting
from dentaltap.errors import ApplicationError
from referrals.models import Eligibility, EligibilityReason, Referral, ReferralSource, ReferralVisit
from rewards.models import Reward, RewardRecipient, RewardStatus
from tenants.models import User

logger = logging.getLogger(__name__)

MAX_RANGE_DAYS = 5 * 366  # longer ranges are a typo, not a question
EARLIEST = datetime.date(2020, 1, 1)
DEFAULT_MONTHS = 12
REVIEW_QUEUE_LIMIT = 50
TOP_REFERRERS_LIMIT = 10
PERIOD_CACHE_SECONDS = 24 * 3600


# --------------------------------------------------------------------------- the date range


class Cohort:
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class DateRange:
    start: datetime.date
    end: datetime.date  # inclusive
    cohort: str = Cohort.MONTH

    @property
    def start_at(self) -> datetime.datetime:
        return timezone.make_aware(datetime.datetime.combine(self.start, datetime.time.min))

    @property
    def end_before(self) -> datetime.datetime:
        return timezone.make_aware(datetime.datetime.combine(self.end + datetime.timedelta(days=1), datetime.time.min))


def default_range() -> DateRange:
    today = timezone.localdate()
    month = today.replace(day=1)
    for _step in range(DEFAULT_MONTHS - 1):
        month = (month - datetime.timedelta(days=1)).replace(day=1)
    return DateRange(start=month, end=today)


class AnalyticsFilterForm(forms.Form):
    """The page's filter and the API's query parameters: one validation for both."""

    start = forms.DateField(
        label=gettext_lazy("From"),
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": gettext_lazy("Enter a date as YYYY-MM-DD.")},
        widget=formatting.date_input(),
    )
    end = forms.DateField(
        label=gettext_lazy("To"),
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": gettext_lazy("Enter a date as YYYY-MM-DD.")},
        widget=formatting.date_input(),
    )
    cohort = forms.ChoiceField(
        label=gettext_lazy("Cohorts by"),
        required=False,
        choices=[(Cohort.MONTH, gettext_lazy("Month")), (Cohort.WEEK, gettext_lazy("Week"))],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        default = default_range()
        start, end = data.get("start") or default.start, data.get("end") or default.end
        latest = timezone.localdate() + datetime.timedelta(days=366)
        if end < start:
            self.add_error("end", _("The end date is before the start date."))
        elif (end - start).days > MAX_RANGE_DAYS:
            self.add_error("end", _("Choose a range of at most 5 years."))
        elif start < EARLIEST or end > latest:
            self.add_error(
                "start" if start < EARLIEST else "end",
                _("Choose dates between %(earliest)s and %(latest)s.")
                % {"earliest": EARLIEST.isoformat(), "latest": latest.isoformat()},
            )
        data["start"], data["end"] = start, end
        data["cohort"] = data.get("cohort") or Cohort.MONTH
        return data


def date_range_parse(params: Any) -> DateRange:
    """A DateRange from query parameters, or an ApplicationError (400) naming what is wrong."""
    form = AnalyticsFilterForm(params)
    if not form.is_valid():
        fields = {name: [str(message) for message in messages] for name, messages in form.errors.items()}
        message = " ".join(message for messages in fields.values() for message in messages)
        raise ApplicationError(message, code="invalid_range", fields=fields)
    data = form.cleaned_data
    return DateRange(start=data["start"], end=data["end"], cohort=data["cohort"])


def _trunc(cohort: str, column: str) -> Any:
    return TruncWeek(column) if cohort == Cohort.WEEK else TruncMonth(column)


def _period_key(moment: datetime.datetime | datetime.date) -> str:
    if isinstance(moment, datetime.datetime):
        # Aware from the ORM's Trunc*, naive (already local wall time) from raw `AT TIME ZONE`.
        moment = (timezone.localtime(moment) if timezone.is_aware(moment) else moment).date()
    return moment.isoformat()


def _periods(period_range: DateRange) -> list[str]:
    """Every period start in the range, so empty weeks or months show as zeros."""
    keys = []
    if period_range.cohort == Cohort.WEEK:
        day = period_range.start - datetime.timedelta(days=period_range.start.weekday())
        while day <= period_range.end:
            keys.append(day.isoformat())
            day += datetime.timedelta(weeks=1)
    else:
        day = period_range.start.replace(day=1)
        while day <= period_range.end:
            keys.append(day.isoformat())
            day = (day + datetime.timedelta(days=32)).replace(day=1)
    return keys


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def referred_practice_ids() -> QuerySet[Any]:
    """Practices that came by referral: a small set (a partial index), hashed once per query."""
    return Referral.objects.filter(referred_practice__isnull=False).values("referred_practice_id")


def has_paid() -> Q:
    """The referral's practice has a standing payment: its recorded conversion."""
    return Q(converted_at__isnull=False)


# --------------------------------------------------------------------------- per-period cache


def _period_bounds(key: str, unit: str) -> tuple[datetime.datetime, datetime.datetime]:
    start = datetime.date.fromisoformat(key)
    end = (
        start + datetime.timedelta(weeks=1)
        if unit == Cohort.WEEK
        else (start + datetime.timedelta(days=32)).replace(day=1)
    )
    combine = datetime.datetime.combine
    return timezone.make_aware(combine(start, datetime.time.min)), timezone.make_aware(combine(end, datetime.time.min))


def _cache_key(figure: str, unit: str, key: str) -> str:
    return f"referrals:analytics:{figure}:{unit}:{timezone.get_current_timezone_name()}:{key}"


def _cache_call(work: Callable[[], Any], default: Any) -> Any:
    """The cache only ever saves work: with Redis away, figures are counted live."""
    try:
        with schema_context(get_public_schema_name()):
            return work()
    except Exception:
        logger.warning("analytics cache unavailable; counting live", exc_info=True)
        return default


def _by_period(
    figure: str, period_range: DateRange, unit: str, count: Callable[[datetime.datetime, datetime.datetime], Any]
) -> dict[str, Any]:
    """`count(start, end)` for every period of the range (cut to the range), from the cache for
    the periods that are over and wholly inside it."""
    now = timezone.now()
    values: dict[str, Any] = {}
    cacheable: dict[str, str] = {}
    for key in _periods(DateRange(period_range.start, period_range.end, unit)):
        start, end = _period_bounds(key, unit)
        if start >= period_range.start_at and end <= period_range.end_before and end <= now:
            cacheable[key] = _cache_key(figure, unit, key)
    cached = _cache_call(lambda: cache.get_many(list(cacheable.values())), {}) if cacheable else {}
    fresh: dict[str, Any] = {}
    for key in _periods(DateRange(period_range.start, period_range.end, unit)):
        if key in cacheable and cacheable[key] in cached:
            values[key] = cached[cacheable[key]]
            continue
        start, end = _period_bounds(key, unit)
        values[key] = count(max(start, period_range.start_at), min(end, period_range.end_before))
        if key in cacheable:
            fresh[cacheable[key]] = values[key]
    if fresh:
        _cache_call(lambda: cache.set_many(fresh, PERIOD_CACHE_SECONDS), None)
    return values


def channel_share_forget(*, moment: datetime.datetime) -> None:
    """A payment of `moment`'s month was recorded or reversed: count that month again."""
    month = timezone.localtime(moment).date().replace(day=1).isoformat()
    _cache_call(lambda: cache.delete(_cache_key("channel_share", Cohort.MONTH, month)), None)


def cohort_forget(*, created_at: datetime.datetime) -> None:
    """A referral created at `created_at` converted, or stopped being converted: count its week
    and month cohorts again."""
    day = timezone.localtime(created_at).date()
    keys = [
        _cache_key("cohorts", Cohort.MONTH, day.replace(day=1).isoformat()),
        _cache_key("cohorts", Cohort.WEEK, (day - datetime.timedelta(days=day.weekday())).isoformat()),
    ]
    _cache_call(lambda: cache.delete_many(keys), None)


# --------------------------------------------------------------------------- the figures


def _channel_share_count(start: datetime.datetime, end: datetime.datetime) -> tuple[int, int]:
    """Practices with a standing payment in [start, end), and how many came by referral."""
    with connection.cursor() as cursor:
        # SQL, not the ORM: it aggregates over a DISTINCT subquery, which the ORM cannot express.
        cursor.execute(
            """
            SELECT count(*), count(*) FILTER (WHERE pairs.practice_id IN (
                       SELECT referred_practice_id FROM referrals_referral WHERE referred_practice_id IS NOT NULL))
            FROM (
                SELECT DISTINCT practice_id FROM billing_payment
                WHERE NOT is_reversed AND paid_at >= %(start)s AND paid_at < %(end)s
            ) AS pairs
            """,
            {"start": start, "end": end},
        )
        paying, referred = cursor.fetchone()
    return paying, referred


def channel_share_by_month(*, period_range: DateRange) -> list[dict[str, Any]]:
    """Per month: practices with a standing payment in that month, and how many of them came by
    referral. One query per month not in the cache (the payments' standing-paid index)."""
    by_month = _by_period("channel_share", period_range, Cohort.MONTH, _channel_share_count)
    result = []
    for key, (paying, referred) in by_month.items():
        result.append(
            {"month": key, "paying_practices": paying, "referred_practices": referred, "share": _rate(referred, paying)}
        )
    return result


def visits_by_period(*, period_range: DateRange) -> dict[str, int]:
    """Link visits per week or month: one index-only range count per period not in the cache
    (the visited_at index)."""
    return _by_period(
        "visits",
        period_range,
        period_range.cohort,
        lambda start, end: ReferralVisit.objects.filter(visited_at__gte=start, visited_at__lt=end).count(),
    )


def _visit_rate(link_signups: int, visits: int) -> float | None:
    """Signups through a link per link visit of the same period. Invitation signups never
    visit a link, so they are not in it. A signup may follow a visit of an earlier period
    (the attribution cookie lasts weeks): when a period has more link signups than visits the
    rate says nothing, and there is none (never a share above 100%)."""
    if link_signups > visits:
        return None
    return _rate(link_signups, visits)


def _cohort_count(start: datetime.datetime, end: datetime.datetime) -> tuple[int, int, int]:
    """Signups created in [start, end): all, through a link, converted. Counts of created_at, not
    of id: the cohort index holds every column used, so no table row is read."""
    row = Referral.objects.filter(created_at__gte=start, created_at__lt=end).aggregate(
        signups=Count("created_at"),
        link_signups=Count("created_at", filter=Q(source=ReferralSource.LINK)),
        paid=Count("created_at", filter=has_paid()),
    )
    return row["signups"], row["link_signups"], row["paid"]


def cohort_funnel(*, period_range: DateRange) -> list[dict[str, Any]]:
    """Per signup cohort (week or month): link visits in the period, signups (all, and those
    through a link), signups whose practice has paid (first payment that stands), and rewards
    credited (status credited now; clawed-back ones are counted in the economics). Signup counts
    of past cohorts come from the cache (a conversion drops its cohort: `cohort_forget`); the
    rewards are counted live, in one grouped query."""
    counts = _by_period("cohorts", period_range, period_range.cohort, _cohort_count)
    # Rewards credited, by their referral's cohort: from the (few) rewards, not a join per referral.
    credited = {
        _period_key(row["period"]): row["credited"]
        for row in Reward.objects.filter(
            recipient=RewardRecipient.REFERRER,
            status=RewardStatus.CREDITED,
            referral__created_at__gte=period_range.start_at,
            referral__created_at__lt=period_range.end_before,
        )
        .annotate(period=_trunc(period_range.cohort, "referral__created_at"))
        .values("period")
        .annotate(credited=Count("referral_id", distinct=True))
        .order_by()
    }
    visits = visits_by_period(period_range=period_range)
    result = []
    for key in _periods(period_range):
        signups, link_signups, paid = counts[key]
        row = {"signups": signups, "link_signups": link_signups, "paid": paid, "credited": credited.get(key, 0)}
        period_visits = visits.get(key, 0)
        result.append(
            {
                "cohort": key,
                "visits": period_visits,
                "signups": row["signups"],
                "link_signups": row["link_signups"],
                "paid": row["paid"],
                "rewards_credited": row["credited"],
                "signup_rate": _visit_rate(row["link_signups"], period_visits),
                "paid_rate": _rate(row["paid"], row["signups"]),
                "reward_rate": _rate(row["credited"], row["paid"]),
            }
        )
    return result


def economics(*, period_range: DateRange) -> dict[str, Any]:
    """Rewards credited and clawed back (the ledger, by entry date) against the revenue from
    referred practices (standing payments, by payment date) in the range."""
    ledger = LedgerEntry.objects.filter(
        reward__isnull=False, created_at__gte=period_range.start_at, created_at__lt=period_range.end_before
    ).aggregate(
        credited=Sum("amount_cents", filter=Q(kind=LedgerKind.REWARD_CREDIT)),
        clawed_back=Sum("amount_cents", filter=Q(kind__in=[LedgerKind.REWARD_CLAWBACK, LedgerKind.REWARD_ADJUSTMENT])),
    )
    with connection.cursor() as cursor:
        # From the (few) referred practices to their payments (the standing-payments-by-practice
        # index), not through every payment of the range; SQL, as the ORM would make it a
        # semi-join over all payments.
        cursor.execute(
            """
            SELECT sum(p.amount_cents), count(DISTINCT p.practice_id)
            FROM (SELECT DISTINCT referred_practice_id AS id FROM referrals_referral
                  WHERE referred_practice_id IS NOT NULL) AS referred
            JOIN billing_payment p ON p.practice_id = referred.id
            WHERE NOT p.is_reversed AND p.paid_at >= %(start)s AND p.paid_at < %(end)s
            """,
            {"start": period_range.start_at, "end": period_range.end_before},
        )
        total, practices = cursor.fetchone()
    revenue = {"total": total, "practices": practices}
    credited = ledger["credited"] or 0
    clawed_back = -(ledger["clawed_back"] or 0)
    net_cost = credited - clawed_back
    revenue_cents = revenue["total"] or 0
    paying = revenue["practices"]
    return {
        "rewards_credited_cents": credited,
        "rewards_clawed_back_cents": clawed_back,
        "net_reward_cost_cents": net_cost,
        "referred_revenue_cents": revenue_cents,
        "paying_referred_practices": paying,
        "roi": round((revenue_cents - net_cost) / net_cost, 2) if net_cost > 0 else None,
        "average_reward_cost_cents": round(net_cost / paying) if paying else None,
        "currency": "usd",
    }


def top_referrers(*, period_range: DateRange, limit: int = TOP_REFERRERS_LIMIT) -> list[dict[str, Any]]:
    """Referrers with the most paid conversions among their signups of the range (then signups)."""
    rows = list(
        Referral.objects.filter(created_at__gte=period_range.start_at, created_at__lt=period_range.end_before)
        .values("referrer_id")
        .annotate(
            signups=Count("*"),
            paid=Count("created_at", filter=has_paid()),
            not_eligible=Count("created_at", filter=Q(eligibility=Eligibility.INELIGIBLE)),
        )
        .order_by("-paid", "-signups", "referrer_id")[:limit]
    )
    # Names for the few winners only: no join over every referral of the range.
    names = {
        user["pk"]: user
        for user in User.objects.filter(pk__in=[row["referrer_id"] for row in rows]).values("pk", "email", "full_name")
    }
    return [
        {**row, "email": names[row["referrer_id"]]["email"], "name": names[row["referrer_id"]]["full_name"]}
        for row in rows
    ]


def review_queue(*, limit: int = REVIEW_QUEUE_LIMIT) -> QuerySet[Referral]:
    """Flagged referrals nobody has decided on: under review (throw-away email, shared address)
    or refused for velocity (staff may let a genuine burst through). Oldest first."""
    return (
        Referral.objects.filter(reviewed_at__isnull=True)
        .exclude(eligibility=Eligibility.ELIGIBLE)
        .filter(
            Q(eligibility=Eligibility.REVIEW)
            | Q(eligibility=Eligibility.INELIGIBLE, eligibility_reason=EligibilityReason.VELOCITY_LIMIT)
        )
        .select_related("referrer", "referred_user")
        .prefetch_related("rewards")
        .order_by("created_at", "pk")[:limit]
    )


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.period_range.start.isoformat(),
            "end": self.period_range.end.isoformat(),
            "cohort": self.period_range.cohort,
            "channel_share": self.channel_share,
            "cohorts": self.cohorts,
            "economics": self.economics,
            "top_referrers": self.top_referrers,
        }


def analytics_build(*, period_range: DateRange) -> Analytics:
    return Analytics(
        period_range=period_range,
        channel_share=channel_share_by_month(period_range=period_range),
        cohorts=cohort_funnel(period_range=period_range),
        economics=economics(period_range=period_range),
        top_referrers=top_referrers(period_range=period_range),
    )
