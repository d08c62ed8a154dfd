"""How money, dates and rates are shown: one helper each, used by every page, email and admin.

Everything goes through Django's l10n (the active language's format module: decimal and
thousand separators, date formats) and through gettext for the patterns, so a Russian or German
catalogue changes the output without touching a template. English formats are ours
(`dentaltap/formats/en/formats.py`: day first, "5 Jan 2026"), other languages use Django's.

Plurals are not a helper of their own on purpose: `ngettext` in Python and
`{% blocktranslate count counter=... %}` in templates are what `makemessages` extracts, so
every counted phrase is written with one of them (never with `|pluralize` or a hand-made "s").

Template filters: `{% load formatting %}` then `{{ cents|money:currency }}`, `{{ moment|local_date }}`,
`{{ moment|local_datetime }}`, `{{ moment|local_weekday_datetime }}`,
`{{ moment|local_day_month }}`, `{{ month|local_year_month }}`, `{{ rate|percent }}`,
`{{ moment|time_ago }}`.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import formats, timezone
from django.utils.timesince import timesince
from django.utils.translation import npgettext_lazy, pgettext

EMPTY = "—"

CURRENCY_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}

# HTML date inputs take and give ISO dates whatever the page's language.
ISO_DATE_INPUT_FORMAT = "%Y-%m-%d"


def money(cents: int | None, currency: str = "usd") -> str:
    """Integer cents as an amount in the active language: 5000, "usd" -> "$50.00" in English
    ("-$50.00" for -5000); a currency without a known symbol shows its code ("50.00 CHF")."""
    if cents is None:
        return EMPTY
    code = (currency or "").lower()
    amount = formats.number_format(Decimal(abs(int(cents))) / 100, decimal_pos=2, use_l10n=True, force_grouping=True)
    symbol = CURRENCY_SYMBOLS.get(code)
    if symbol:
        # Translators: the order of a currency symbol and an amount, e.g. "$50.00" or "50,00 $".
        text = pgettext("money with a currency symbol", "%(symbol)s%(amount)s") % {"symbol": symbol, "amount": amount}
    else:
        # Translators: an amount and an ISO currency code, e.g. "50.00 CHF".
        text = pgettext("money with a currency code", "%(amount)s %(code)s") % {"amount": amount, "code": code.upper()}
    return f"-{text}" if int(cents) < 0 else text


def _local(value: datetime.date | datetime.datetime) -> datetime.date | datetime.datetime:
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


def date(value: datetime.date | datetime.datetime | str | None) -> str:
    """A calendar day in the active language ("5 Jan 2026" in English). Moments are shown in
    the current time zone first; an ISO date string (as analytics rows carry) is read as one."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, str):
        value = datetime.date.fromisoformat(value[:10])
    local = _local(value)
    day = local.date() if isinstance(local, datetime.datetime) else local
    return formats.date_format(day, "DATE_FORMAT")


def date_time(value: datetime.datetime | None) -> str:
    """A moment, day and time, in the active language ("5 Jan 2026, 14:30" in English)."""
    if value is None:
        return EMPTY
    return formats.date_format(_local(value), "DATETIME_FORMAT")


def weekday_date_time(value: datetime.datetime | None) -> str:
    """A moment with its weekday, for schedules ("Mon 5 Jan 2026, 14:30" in English)."""
    if value is None:
        return EMPTY
    local = _local(value)
    # Translators: a weekday before a date and time, e.g. "Mon 5 Jan 2026, 14:30".
    return pgettext("weekday and moment", "%(weekday)s %(moment)s") % {
        "weekday": formats.date_format(local, "D"),
        "moment": formats.date_format(local, "DATETIME_FORMAT"),
    }


def day_month(value: datetime.date | datetime.datetime | None) -> str:
    """A day of this year, without the year ("5 Jan" in English)."""
    if value is None:
        return EMPTY
    return formats.date_format(_local(value), "MONTH_DAY_FORMAT")


def year_month(value: datetime.date | datetime.datetime | str | None) -> str:
    """A month ("January 2026"); accepts an ISO date string as the analytics rows carry."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, str):
        value = datetime.date.fromisoformat(value[:10])
    return formats.date_format(_local(value), "YEAR_MONTH_FORMAT")


def percent(rate: float | Decimal | None) -> str:
    """A share between 0 and 1 as a whole percentage in the active language (0.153 -> "15%")."""
    if rate is None:
        return EMPTY
    value = formats.number_format(round(Decimal(str(rate)) * 100), decimal_pos=0, use_l10n=True)
    # Translators: a percentage, e.g. "15%" (German and Russian write "15 %").
    return pgettext("percentage", "%(value)s%%") % {"value": value}


def date_input(**attrs: Any) -> forms.DateInput:
    """The widget for a date field: the browser's date picker, which needs ISO values in every
    language (a German format would leave the picker empty)."""
    return forms.DateInput(attrs={"type": "date", **attrs}, format=ISO_DATE_INPUT_FORMAT)


# "3 days ago" is a sentence, not a duration with a word glued on: German says "vor 3 Tagen"
# (dative), so the durations inside it are their own strings ("time ago" context).
_AGO_STRINGS = {
    "year": npgettext_lazy("time ago", "%(num)d year", "%(num)d years", "num"),
    "month": npgettext_lazy("time ago", "%(num)d month", "%(num)d months", "num"),
    "week": npgettext_lazy("time ago", "%(num)d week", "%(num)d weeks", "num"),
    "day": npgettext_lazy("time ago", "%(num)d day", "%(num)d days", "num"),
    "hour": npgettext_lazy("time ago", "%(num)d hour", "%(num)d hours", "num"),
    "minute": npgettext_lazy("time ago", "%(num)d minute", "%(num)d minutes", "num"),
}


def time_ago(moment: datetime.datetime | None) -> str:
    """How long ago `moment` was, as a phrase of the active language: "3 days, 1 hour ago",
    "3 дня, 1 час назад", "vor 3 Tagen, 1 Stunde"; under a minute: "just now"."""
    if moment is None:
        return EMPTY
    if timezone.now() - moment < datetime.timedelta(minutes=1):
        return pgettext("time ago", "just now")
    duration = timesince(moment, time_strings=_AGO_STRINGS)  # type: ignore[arg-type]  # lazy, as Django's own
    return pgettext("time ago", "%(duration)s ago") % {"duration": duration}
