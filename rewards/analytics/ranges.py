"""The range a staff analytics view asks about: dates, cohorts (week or month), the
filter form the page and the API share, and the period helpers every figure uses."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dentaltap import formatting
from dentaltap.errors import ApplicationError
from referrals.models import Referral

MAX_RANGE_DAYS = 5 * 366  # longer ranges are a typo, not a question
EARLIEST = datetime.date(2020, 1, 1)
DEFAULT_MONTHS = 12


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
