"""Past periods counted once: a period that is over and lies wholly inside the asked range is
computed once and cached (24 hours, per period); what changes a past period drops it
(`channel_share_forget`, `cohort_forget`). With Redis away everything is counted live."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from rewards.analytics.ranges import Cohort, DateRange, _periods

logger = logging.getLogger("rewards.analytics")

PERIOD_CACHE_SECONDS = 24 * 3600


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
