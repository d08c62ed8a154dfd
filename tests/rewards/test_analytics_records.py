"""What the staff analytics read instead of searching every payment (issue 14): the referral's
recorded conversion, kept by billing's payment handlers, filled for old rows by the migration;
and the per-period cache, dropped by a payment of its month, never needed (Redis away)."""

from __future__ import annotations

import datetime
import importlib
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from billing.models import Payment
from referrals.models import Eligibility, EligibilityReason, Referral
from tests.billing_support import post_event, process_all
from tests.factories import UserFactory
from tests.growth_support import ClientFor
from tests.stripe_helpers import dispute_created, invoice_paid

pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]


def paid_on(moment: datetime.datetime, **kwargs: Any) -> dict[str, Any]:
    payload = invoice_paid(customer="cus_newcomer", **kwargs)
    payload["data"]["object"]["status_transitions"]["paid_at"] = int(moment.timestamp())
    return payload


def conversion(referral: Referral) -> tuple[datetime.datetime | None, int | None]:
    referral.refresh_from_db()
    return referral.converted_at, referral.first_paid_amount_cents


def test_the_first_standing_payment_is_the_conversion_whatever_the_order(referred: dict[str, Any]) -> None:
    referral = referred["referral"]
    assert conversion(referral) == (None, None)
    march = datetime.datetime(2026, 3, 10, tzinfo=datetime.UTC)
    february = datetime.datetime(2026, 2, 10, tzinfo=datetime.UTC)
    post_event(paid_on(march, invoice_id="in_march", charge="ch_march", amount=9900))
    process_all()
    assert conversion(referral) == (march, 9900)
    post_event(paid_on(february, invoice_id="in_february", charge="ch_february", amount=4900))  # arrives late
    process_all()
    assert conversion(referral) == (february, 4900)

    post_event(dispute_created(charge="ch_february", dispute_id="dp_1"))  # the first no longer stands
    process_all()
    assert conversion(referral) == (march, 9900)
    post_event(dispute_created(charge="ch_march", dispute_id="dp_2"))
    process_all()
    assert conversion(referral) == (None, None)


def test_the_migration_fills_the_conversions_of_existing_referrals(referred: dict[str, Any]) -> None:
    referral, practice = referred["referral"], referred["practice"]
    other = Referral.objects.create(
        referrer=referred["referrer"], referred_user=UserFactory(), source="link", eligibility="eligible"
    )

    def pay(invoice: str, day: int, amount: int, *, is_reversed: bool = False) -> None:
        Payment.objects.create(
            stripe_invoice_id=invoice, practice=practice, stripe_customer_id="cus_newcomer", amount_cents=amount,
            currency="usd", paid_at=datetime.datetime(2026, 1, day, tzinfo=datetime.UTC), is_reversed=is_reversed,
        )  # fmt: skip

    pay("in_a", 3, 100, is_reversed=True)  # refunded: not the conversion
    pay("in_b", 5, 4900)
    pay("in_c", 9, 9900)
    assert conversion(referral) == (None, None)  # written directly, as before the migration
    migration = importlib.import_module("rewards.migrations.0006_referral_conversions_fill")
    with connection.cursor() as cursor:
        cursor.execute(migration.FILL)
    assert conversion(referral) == (datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC), 4900)
    assert conversion(other) == (None, None)


@pytest.fixture
def staff_client(public_tenant: Any, client_for: ClientFor) -> Any:
    return client_for(UserFactory(email="staff@dentaltap.example", is_staff=True))


def _month_share(client: Any, month: datetime.date) -> dict[str, Any]:
    start, end = month, (month + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
    body = client.get(f"/api/staff/referrals/analytics/?start={start}&end={end}").json()
    return body["channel_share"][0]


def test_a_past_month_is_counted_once_until_a_payment_of_that_month_changes(
    referred: dict[str, Any], staff_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    month = (timezone.localdate().replace(day=1) - datetime.timedelta(days=40)).replace(day=1)
    moment = timezone.make_aware(datetime.datetime.combine(month.replace(day=15), datetime.time(12)))
    assert _month_share(staff_client, month)["paying_practices"] == 0
    # A payment written behind billing's back is not seen: the month came from the cache.
    Payment.objects.create(
        stripe_invoice_id="in_behind", practice=referred["referrer_practice"], stripe_customer_id="cus_x",
        amount_cents=100, currency="usd", paid_at=moment,
    )  # fmt: skip
    assert _month_share(staff_client, month)["paying_practices"] == 0
    # One through billing's handlers drops that month once it commits: both are counted now.
    with django_capture_on_commit_callbacks(execute=True):
        post_event(paid_on(moment, invoice_id="in_that_month"))
        process_all()
    share = _month_share(staff_client, month)
    assert (share["paying_practices"], share["referred_practices"]) == (2, 1)


@pytest.mark.django_db(transaction=True)
def test_with_redis_away_the_figures_are_counted_live(
    referred: dict[str, Any], staff_client: Any, redis_outage: None
) -> None:
    month = (timezone.localdate().replace(day=1) - datetime.timedelta(days=40)).replace(day=1)
    moment = timezone.make_aware(datetime.datetime.combine(month.replace(day=15), datetime.time(12)))
    Payment.objects.create(
        stripe_invoice_id="in_live", practice=referred["practice"], stripe_customer_id="cus_newcomer",
        amount_cents=100, currency="usd", paid_at=moment,
    )  # fmt: skip
    share = _month_share(staff_client, month)
    assert (share["paying_practices"], share["referred_practices"]) == (1, 1)


def test_a_conversion_drops_its_cached_cohort(
    referred: dict[str, Any], staff_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    month = (timezone.localdate().replace(day=1) - datetime.timedelta(days=40)).replace(day=1)
    created = timezone.make_aware(datetime.datetime.combine(month.replace(day=3), datetime.time(9)))
    Referral.objects.filter(pk=referred["referral"].pk).update(created_at=created)
    start, end = month, (month + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)

    def cohort() -> dict[str, Any]:
        return staff_client.get(f"/api/staff/referrals/analytics/?start={start}&end={end}").json()["cohorts"][0]

    assert (cohort()["signups"], cohort()["paid"]) == (1, 0)  # counted, and cached
    with django_capture_on_commit_callbacks(execute=True):
        post_event(paid_on(timezone.now(), invoice_id="in_converts"))  # paid today, for a past cohort
        process_all()
    assert (cohort()["signups"], cohort()["paid"]) == (1, 1)


def test_top_referrers_of_a_past_month_come_from_its_cached_counts_until_a_conversion(
    referred: dict[str, Any], staff_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    month = (timezone.localdate().replace(day=1) - datetime.timedelta(days=40)).replace(day=1)
    created = timezone.make_aware(datetime.datetime.combine(month.replace(day=3), datetime.time(9)))
    referral = referred["referral"]
    Referral.objects.filter(pk=referral.pk).update(created_at=created)
    start, end = month, (month + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)

    def top() -> list[tuple[int, int, int, int]]:
        rows = staff_client.get(f"/api/staff/referrals/analytics/?start={start}&end={end}").json()["top_referrers"]
        return [(row["referrer_id"], row["signups"], row["paid"], row["not_eligible"]) for row in rows]

    assert top() == [(referral.referrer_id, 1, 0, 0)]  # counted, and cached
    # Written behind the handlers' back: the cached month does not move...
    Referral.objects.filter(pk=referral.pk).update(converted_at=timezone.now())
    assert top() == [(referral.referrer_id, 1, 0, 0)]
    Referral.objects.filter(pk=referral.pk).update(converted_at=None)
    # ...but eligibility ranks nobody and is read live for the winners: a review shows at once.
    rejected = {"eligibility": Eligibility.INELIGIBLE, "eligibility_reason": EligibilityReason.REJECTED_BY_STAFF}
    Referral.objects.filter(pk=referral.pk).update(**rejected)
    assert top() == [(referral.referrer_id, 1, 0, 1)]
    Referral.objects.filter(pk=referral.pk).update(eligibility=Eligibility.ELIGIBLE, eligibility_reason="")
    with django_capture_on_commit_callbacks(execute=True):  # a conversion through billing drops the month
        post_event(paid_on(timezone.now(), invoice_id="in_converts_top"))
        process_all()
    assert top() == [(referral.referrer_id, 1, 1, 0)]
