"""Top referrers of the staff analytics, from per-month counts (issue 14: it was the costliest
figure left, one aggregate over every referral of the range by referrer).

- Each month that is over and lies wholly inside the asked range is counted once per referrer
  and cached for a day like the other per-period figures (rewards.analytics.period_cache's `_by_period`).
- Those months' counts, merged, are cached too, under the span of months and a generation token
  (the default range asks the same span all month long); the page then reads one entry and
  counts only the current month (and a month the range cuts) live.
- A conversion drops its referral's month and replaces the generation
  (`top_referrers_forget`, called with `cohort_forget` when a referral's `converted_at` changes).
- Eligibility ranks nobody, so "not eligible" is read live for the few winners only (and stays
  true when staff review a referral).

Counts are packed in one integer per referrer, paid << 32 | signups: months add up in one
addition, and ordering by the packed value is ordering by (paid, signups)."""

from __future__ import annotations

import datetime
import heapq
import uuid
from typing import Any

from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from referrals.models import Eligibility, Referral
from rewards.analytics.period_cache import PERIOD_CACHE_SECONDS, _by_period, _cache_call, _cache_key, _period_bounds
from rewards.analytics.ranges import Cohort, DateRange, _periods, has_paid
from tenants.models import User

FIGURE = "top_referrers"
SPAN_FIGURE = "top_referrers_span"
GENERATION_KEY = "referrals:analytics:top_referrers:generation"
_SHIFT = 32  # signups per referrer and month stay far below 2**32
Counts = dict[int, int]


def _per_referrer(start: datetime.datetime, end: datetime.datetime) -> Counts:
    """Signups created in [start, end) by referrer, packed with the converted ones. From the
    cohort index."""
    rows = (
        Referral.objects.filter(created_at__gte=start, created_at__lt=end)
        .values("referrer_id")
        .annotate(signups=Count("created_at"), paid=Count("created_at", filter=has_paid()))
        .order_by()
        .values_list("referrer_id", "signups", "paid")
    )
    return {referrer_id: paid << _SHIFT | signups for referrer_id, signups, paid in rows}


def _add(total: Counts, counts: Counts) -> None:
    get = total.get
    for referrer_id, packed in counts.items():
        total[referrer_id] = get(referrer_id, 0) + packed


def top_referrers_forget(*, created_at: datetime.datetime) -> None:
    """A referral created at `created_at` converted, or stopped being converted: count its month
    again, and every merged span (they may hold it)."""
    month = timezone.localtime(created_at).date().replace(day=1).isoformat()
    key = _cache_key(FIGURE, Cohort.MONTH, month)

    def forget() -> None:
        cache.delete(key)
        cache.set(GENERATION_KEY, uuid.uuid4().hex, None)

    _cache_call(forget, None)


def _finished_months(period_range: DateRange) -> list[str]:
    now = timezone.now()
    keys = []
    for key in _periods(DateRange(period_range.start, period_range.end, Cohort.MONTH)):
        start, end = _period_bounds(key, Cohort.MONTH)
        if start >= period_range.start_at and end <= period_range.end_before and end <= now:
            keys.append(key)
    return keys


def _range_counts(period_range: DateRange) -> Counts:
    """Every referrer's packed counts over the range: the finished months from the merged span
    (or the per-month cache), the rest counted live."""
    finished = _finished_months(period_range)
    span_key = None
    if finished:
        generation = _cache_call(lambda: cache.get(GENERATION_KEY, ""), None)
        if generation is not None:
            span = f"{finished[0]}..{finished[-1]}:{generation}"
            span_key = _cache_key(SPAN_FIGURE, Cohort.MONTH, span)
    merged = _cache_call(lambda: cache.get(span_key), None) if span_key else None
    total: Counts = {}
    if merged is None:  # from the months (cached each), then the merged span for next time
        months = _by_period(FIGURE, period_range, Cohort.MONTH, _per_referrer)
        span_counts: Counts = {}
        for key in finished:
            _add(span_counts, months[key])
        if span_key:
            _cache_call(lambda: cache.set(span_key, span_counts, PERIOD_CACHE_SECONDS), None)
        _add(total, span_counts)
        for key, counts in months.items():
            if key not in finished:
                _add(total, counts)
        return total
    _add(total, merged)
    for key in _periods(DateRange(period_range.start, period_range.end, Cohort.MONTH)):
        if key not in finished:
            start, end = _period_bounds(key, Cohort.MONTH)
            _add(total, _per_referrer(max(start, period_range.start_at), min(end, period_range.end_before)))
    return total


def top_referrers(*, period_range: DateRange, limit: int) -> list[dict[str, Any]]:
    """Referrers with the most paid conversions among their signups of the range (then signups,
    then the lower id): the same rows as one aggregate over the range."""
    total = _range_counts(period_range)
    ranked = [
        referrer_id
        for referrer_id, _packed in heapq.nsmallest(limit, total.items(), key=lambda item: (-item[1], item[0]))
    ]
    not_eligible = dict(
        Referral.objects.filter(
            referrer_id__in=ranked,
            created_at__gte=period_range.start_at,
            created_at__lt=period_range.end_before,
            eligibility=Eligibility.INELIGIBLE,
        )
        .values("referrer_id")
        .annotate(count=Count("*"))
        .order_by()
        .values_list("referrer_id", "count")
    )
    # Names for the few winners only: no join over every referral of the range.
    names = {user["pk"]: user for user in User.objects.filter(pk__in=ranked).values("pk", "email", "full_name")}
    mask = (1 << _SHIFT) - 1
    return [
        {
            "referrer_id": referrer_id,
            "signups": total[referrer_id] & mask,
            "paid": total[referrer_id] >> _SHIFT,
            "not_eligible": not_eligible.get(referrer_id, 0),
            "email": names[referrer_id]["email"],
            "name": names[referrer_id]["full_name"],
        }
        for referrer_id in ranked
    ]
