"""The referral channel's figures: channel share per month, link visits, the funnel per signup
cohort, economics and top referrers."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, Q, Sum

from billing.models import LedgerEntry, LedgerKind
from referrals.models import Referral, ReferralSource, ReferralVisit
from rewards.analytics.period_cache import _by_period
from rewards.analytics.ranges import Cohort, DateRange, _period_key, _periods, _rate, _trunc, has_paid
from rewards.models import AffiliateEntry, AffiliateEntryKind, Reward, RewardRecipient, RewardStatus

TOP_REFERRERS_LIMIT = 10


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


def referred_revenue(*, period_range: DateRange) -> tuple[int, int]:
    """The referred practices' standing payments in the range: (cents, paying practices)."""
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
    return int(total or 0), practices


def economics(*, period_range: DateRange, revenue: tuple[int, int] | None = None) -> dict[str, Any]:
    """Rewards credited and clawed back (the ledger, by entry date; cash revenue shares from the
    affiliate ledger) against the revenue from
    referred practices (standing payments, by payment date) in the range. `revenue`: (cents,
    paying practices) when the caller has counted it (the breakdown by program does)."""
    ledger = LedgerEntry.objects.filter(
        reward__isnull=False, created_at__gte=period_range.start_at, created_at__lt=period_range.end_before
    ).aggregate(
        credited=Sum("amount_cents", filter=Q(kind=LedgerKind.REWARD_CREDIT)),
        clawed_back=Sum("amount_cents", filter=Q(kind__in=[LedgerKind.REWARD_CLAWBACK, LedgerKind.REWARD_ADJUSTMENT])),
    )
    cash = AffiliateEntry.objects.filter(  # revenue shares paid in cash: their own ledger
        reward__isnull=False, occurred_at__gte=period_range.start_at, occurred_at__lt=period_range.end_before
    ).aggregate(
        earned=Sum("amount_cents", filter=Q(kind=AffiliateEntryKind.EARNED)),
        reversed=Sum("amount_cents", filter=Q(kind=AffiliateEntryKind.REVERSED)),
    )
    if revenue is None:
        revenue = referred_revenue(period_range=period_range)
    revenue_cents, paying = revenue
    credited = (ledger["credited"] or 0) + (cash["earned"] or 0)
    clawed_back = -(ledger["clawed_back"] or 0) - (cash["reversed"] or 0)
    net_cost = credited - clawed_back
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
    """Referrers with the most paid conversions among their signups of the range (then signups),
    from per-month counts cached like the other past periods (rewards/analytics_top.py)."""
    from rewards import analytics_top  # noqa: PLC0415 - it builds on this package's period cache

    return analytics_top.top_referrers(period_range=period_range, limit=limit)
