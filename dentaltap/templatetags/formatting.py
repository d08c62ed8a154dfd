"""Template filters over dentaltap.formatting: `{% load formatting %}`."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django import template

from dentaltap import formatting

register = template.Library()


@register.filter
def money(cents: int | None, currency: str = "usd") -> str:
    return formatting.money(cents, currency)


@register.filter
def local_date(value: datetime.date | datetime.datetime | str | None) -> str:
    return formatting.date(value)


@register.filter
def local_datetime(value: datetime.datetime | None) -> str:
    return formatting.date_time(value)


@register.filter
def local_weekday_datetime(value: datetime.datetime | None) -> str:
    return formatting.weekday_date_time(value)


@register.filter
def local_day_month(value: datetime.date | datetime.datetime | None) -> str:
    return formatting.day_month(value)


@register.filter
def local_year_month(value: datetime.date | datetime.datetime | str | None) -> str:
    return formatting.year_month(value)


@register.filter
def percent(rate: float | Decimal | None) -> str:
    return formatting.percent(rate)


@register.filter
def time_ago(moment: datetime.datetime | None) -> str:
    return formatting.time_ago(moment)
