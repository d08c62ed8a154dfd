"""Money, dates and rates go through dentaltap.formatting: one format on every page, and the
active language's (Django's l10n), so a German or Russian catalogue changes them without code."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone, translation
from django_tenants.utils import tenant_context

from dentaltap import formatting
from tenants.models import Practice, User
from tests.factories import AppointmentFactory, PatientFactory

MOMENT = datetime.datetime(2026, 1, 5, 14, 30, tzinfo=datetime.UTC)


def test_money_in_the_active_language() -> None:
    assert formatting.money(5000, "usd") == "$50.00"
    assert formatting.money(-5000, "USD") == "-$50.00"
    assert formatting.money(123456789, "eur") == "€1,234,567.89"
    assert formatting.money(1234, "chf") == "12.34 CHF"
    assert formatting.money(None, "usd") == "—"
    # The catalogues put the amount first, then a no-break space and the symbol or code.
    with translation.override("de"):
        assert formatting.money(123456, "usd") == "1.234,56\xa0$"
        assert formatting.money(-5000, "eur") == "-50,00\xa0€"
        assert formatting.money(1234, "chf") == "12,34\xa0CHF"
    with translation.override("ru"):
        assert formatting.money(123456, "usd") == "1\xa0234,56\xa0$"


def test_dates_are_day_first_in_english_and_localised_otherwise() -> None:
    assert formatting.date(MOMENT) == "5 Jan 2026"
    assert formatting.date(datetime.date(1980, 1, 31)) == "31 Jan 1980"
    assert formatting.date("2026-03-01") == "1 Mar 2026"
    assert formatting.date_time(MOMENT) == "5 Jan 2026, 14:30"
    assert formatting.weekday_date_time(MOMENT) == "Mon 5 Jan 2026, 14:30"
    assert formatting.day_month(MOMENT) == "5 Jan"
    assert formatting.year_month("2026-02-01") == "February 2026"
    assert formatting.date(None) == "—"
    with translation.override("de"):
        assert formatting.date(MOMENT) == "5. Januar 2026"
    with translation.override("ru"):
        assert "2026" in formatting.date(MOMENT) and "января" in formatting.date(MOMENT)


def test_rates_are_whole_percentages() -> None:
    assert formatting.percent(0.153) == "15%"
    assert formatting.percent(1) == "100%"
    assert formatting.percent(None) == "—"
    with translation.override("de"):
        assert formatting.percent(0.153) == "15\xa0%"


def test_date_inputs_stay_iso_in_every_language() -> None:
    widget = formatting.date_input()
    with translation.override("de"):
        html = widget.render("day", datetime.date(2026, 1, 31))
    assert 'type="date"' in html and 'value="2026-01-31"' in html


@pytest.mark.django_db
def test_the_practice_pages_write_dates_day_first(
    practice_a: tuple[User, Practice], client_for: Callable[..., Client]
) -> None:
    """The patients page said "Jan. 31, 1980" (US style) while the others were day first."""
    owner, alpha = practice_a
    with tenant_context(alpha):
        patient = PatientFactory(last_name="Weber", date_of_birth=datetime.date(1980, 1, 31))
        AppointmentFactory(patient=patient, starts_at=timezone.now() + datetime.timedelta(days=2))
    client = client_for(owner, alpha)
    patients = client.get("/patients/").content.decode()
    assert "31 Jan 1980" in patients and "Jan. 31, 1980" not in patients
    appointments = client.get("/appointments/").content.decode()
    assert re.search(r"<td>\w{3} \d{1,2} \w{3} \d{4}, \d{2}:\d{2}\u2013\d{2}:\d{2}</td>", appointments)
