"""The affiliates' monthly statements and the payouts staff record (issue 11): the figures per
month, payouts refused with a message naming the field, an append-only ledger (the database
refuses an UPDATE or DELETE; the admin offers no change), and staff-only pages."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone

from dentaltap.errors import ApplicationError
from rewards import payouts, statements
from rewards.models import AffiliateEntry, AffiliateEntryKind, Reward
from tenants.models import User
from tests.billing_support import post_event, process_all
from tests.concurrency import run_together
from tests.factories import UserFactory
from tests.rewards.revshare_support import affiliate_program, paid_on

ClientFor = Callable[..., Client]


def _month(back: int, day: int = 1) -> datetime.date:
    month = timezone.now().date().replace(day=1)
    for _ in range(back):
        month = (month - datetime.timedelta(days=1)).replace(day=1)
    return month.replace(day=day)


def _at(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(9), tzinfo=datetime.UTC)


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_superuser("staff@dentaltap.example", "x-Strong-pass-99", full_name="Staff")


@pytest.fixture
def affiliate(referred: dict[str, Any], staff: User) -> User:
    """Three invoices' shares (39.60 each) earned two months ago, last month and this month; 10.00
    of this month's reversed; 30.00 paid out last month; 20.00 paid out this month and reversed."""
    referrer = referred["referrer"]
    affiliate_program(referrer)
    for index in range(3):
        post_event(paid_on(3 - index, invoice_id=f"in_s{index}", charge=f"ch_s{index}"))
    process_all()
    rewards = list(Reward.objects.order_by("pk"))
    for reward, back in zip(rewards, (2, 1, 0), strict=True):
        AffiliateEntry.objects.create(
            affiliate=referrer,
            kind=AffiliateEntryKind.EARNED,
            amount_cents=3960,
            reward=reward,
            occurred_at=_at(_month(back, 15 if back else 1)),
        )
    AffiliateEntry.objects.create(
        affiliate=referrer,
        kind=AffiliateEntryKind.REVERSED,
        amount_cents=-1000,
        reward=rewards[2],
        key="to-2960",
        occurred_at=_at(_month(0)),
    )
    payouts.payout_record(
        affiliate=referrer, amount_cents=3000, currency="USD", paid_on=_month(1, 20), reference="SEPA-1", actor=staff
    )
    wrong = payouts.payout_record(
        affiliate=referrer, amount_cents=2000, currency="usd", paid_on=_month(0), reference="SEPA-2", actor=staff
    )
    payouts.payout_reverse(payout_id=wrong.pk, actor=staff, note="sent to the wrong account")
    return referrer


def _figures(statement: statements.AffiliateStatement) -> list[tuple[int, int, int, int, int]]:
    return [
        (m.opening_cents, m.earned_cents, m.reversed_cents, m.paid_out_cents, m.closing_cents) for m in statement.months
    ]


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_the_monthly_statement_carries_each_closing_balance_into_the_next_month(affiliate: User) -> None:
    (statement,) = statements.affiliate_statements(first_month=_month(3), months=4)
    assert statement.affiliate_id == affiliate.pk and statement.currency == "usd"
    assert _figures(statement) == [
        (0, 0, 0, 0, 0),
        (0, 3960, 0, 0, 3960),
        (3960, 3960, 0, 3000, 4920),
        (4920, 3960, 1000, 0, 7880),  # 20.00 paid out and reversed the same month
    ]
    (later,) = statements.affiliate_statements(first_month=_month(1), months=2, affiliate_id=affiliate.pk)
    assert _figures(later)[0][0] == 3960
    assert payouts.affiliate_balance_cents(affiliate_id=affiliate.pk, currency="usd") == 7880


@pytest.mark.django_db
@pytest.mark.practice_rows_only
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount_cents": 0}, "amount_cents"),
        ({"amount_cents": -500}, "amount_cents"),
        ({"amount_cents": 7881}, "amount_cents"),  # more than is owed
        ({"paid_on": timezone.now().date() + datetime.timedelta(days=2)}, "paid_on"),
        ({"reference": "  "}, "reference"),
    ],
)
def test_a_bad_payout_is_refused_naming_the_field_and_writes_nothing(
    affiliate: User, staff: User, changes: dict[str, Any], field: str
) -> None:
    before = AffiliateEntry.objects.count()
    arguments = {"amount_cents": 1000, "currency": "usd", "paid_on": _month(0), "reference": "SEPA-3", **changes}
    with pytest.raises(ApplicationError) as refused:
        payouts.payout_record(affiliate=affiliate, actor=staff, **arguments)
    assert list(refused.value.fields) == [field] and refused.value.message
    assert AffiliateEntry.objects.count() == before


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_a_paid_amount_is_never_edited_or_deleted_only_reversed_once(affiliate: User, staff: User) -> None:
    payout = AffiliateEntry.objects.get(kind=AffiliateEntryKind.PAID_OUT, reference="SEPA-1")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AffiliateEntry.objects.filter(pk=payout.pk).update(amount_cents=-1)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM rewards_affiliateentry WHERE id = %s", [payout.pk])
    payout.amount_cents = -1
    with pytest.raises(RuntimeError, match="append-only"):
        payout.save()
    with pytest.raises(RuntimeError, match="append-only"):
        payout.delete()
    payout.refresh_from_db()
    assert payout.amount_cents == -3000
    # A correction is a reversing entry, once.
    payouts.payout_reverse(payout_id=payout.pk, actor=staff, note="wrong amount")
    for refused_id in (payout.pk, AffiliateEntry.objects.filter(kind=AffiliateEntryKind.EARNED).first().pk):  # type: ignore[union-attr]
        with pytest.raises(ApplicationError) as refused:
            payouts.payout_reverse(payout_id=refused_id, actor=staff, note="again")
        assert list(refused.value.fields) == ["payout"]
    with pytest.raises(IntegrityError), transaction.atomic():  # the database says the same
        AffiliateEntry.objects.create(
            affiliate=affiliate, kind=AffiliateEntryKind.PAYOUT_REVERSED, amount_cents=3000, reverses=payout
        )
    assert payouts.affiliate_balance_cents(affiliate_id=affiliate.pk, currency="usd") == 10880


@pytest.mark.django_db(transaction=True)
@pytest.mark.practice_rows_only
def test_two_staff_members_cannot_pay_out_the_same_money_twice(affiliate: User, staff: User) -> None:
    other = User.objects.create_superuser("other@dentaltap.example", "x-Strong-pass-99", full_name="Other")

    def pay(actor: User) -> Any:
        return payouts.payout_record(
            affiliate=affiliate, amount_cents=5000, currency="usd", paid_on=_month(0), reference="SEPA-4", actor=actor
        )

    results = run_together(lambda: pay(staff), lambda: pay(other))
    assert sorted(type(result).__name__ for result in results) == ["AffiliateEntry", "ApplicationError"]
    assert payouts.affiliate_balance_cents(affiliate_id=affiliate.pk, currency="usd") == 2880


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_the_admin_records_payouts_through_the_service_and_never_changes_an_entry(
    affiliate: User, staff: User, client_for: ClientFor
) -> None:
    client = client_for(staff)
    base = "/admin/rewards/affiliateentry/"
    assert client.get(base).status_code == 200
    assert client.get(f"{base}add/").status_code == 200
    form = {"affiliate": affiliate.email, "currency": "usd", "paid_on": _month(0).isoformat(), "reference": "SEPA-5"}
    too_much = client.post(f"{base}add/", {**form, "amount_cents": "9999"})
    assert too_much.status_code == 400 and "is more than that" in too_much.content.decode()
    assert not AffiliateEntry.objects.filter(reference="SEPA-5").exists()
    assert client.post(f"{base}add/", {**form, "amount_cents": "880"}).status_code == 302
    payout = AffiliateEntry.objects.get(reference="SEPA-5")
    assert (payout.kind, payout.amount_cents, payout.recorded_by) == (AffiliateEntryKind.PAID_OUT, -880, staff)
    page = client.get(f"{base}{payout.pk}/change/")
    assert page.status_code == 200 and 'name="amount_cents"' not in page.content.decode()
    assert client.post(f"{base}{payout.pk}/change/", {"amount_cents": "-1"}).status_code == 403
    assert client.post(f"{base}{payout.pk}/delete/", {"post": "yes"}).status_code == 403
    payout.refresh_from_db()
    assert payout.amount_cents == -880
    client.post(base, {"action": "reverse_payouts", "_selected_action": [payout.pk]})
    assert AffiliateEntry.objects.filter(reverses=payout, amount_cents=880).count() == 1


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_statement_pages_and_csv_are_for_staff_only(
    affiliate: User, staff: User, client_for: ClientFor, referred: dict[str, Any]
) -> None:
    query = f"first_month={_month(3):%Y-%m}&months=4"
    anonymous = client_for().get("/staff/affiliates/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")
    for outsider in (affiliate, referred["referral"].referred_user, UserFactory()):  # owners are not staff
        client = client_for(outsider)
        assert client.get(f"/staff/affiliates/?{query}").status_code == 403
        assert client.get(f"/staff/affiliates/statements.csv?{query}").status_code == 403
        assert client.get("/admin/rewards/affiliateentry/").status_code == 302  # the admin's own login
    client = client_for(staff)
    summary = client.get(f"/staff/affiliates/?{query}").content.decode()
    assert f'data-affiliate="{affiliate.pk}"' in summary and 'data-cents="7880"' in summary
    detail = client.get(f"/staff/affiliates/?{query}&affiliate={affiliate.email}").content.decode()
    assert detail.count("data-month=") == 4
    assert client.get("/staff/affiliates/").status_code == 200  # the last 12 months by default
    csv = b"".join(client.get(f"/staff/affiliates/statements.csv?{query}").streaming_content).decode()  # type: ignore[attr-defined]
    lines = csv.strip().splitlines()
    assert lines[0].startswith("affiliate_id,affiliate_email,currency,month")
    assert lines[-1] == f"{affiliate.pk},{affiliate.email},usd,{_month(0):%Y-%m},4920,3960,1000,0,7880"
    for bad, word in (
        ("first_month=soon&months=4", "date"),
        (f"{query[:-1]}99", "24"),
        (f"{query}&affiliate=nobody@example.com", "email"),
    ):
        refused = client.get(f"/staff/affiliates/?{bad}")
        assert refused.status_code == 400 and word in refused.content.decode()
        assert client.get(f"/staff/affiliates/statements.csv?{bad}").status_code == 400


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_an_affiliate_sees_their_own_statement_and_nobody_elses(
    affiliate: User, client_for: ClientFor, referred: dict[str, Any]
) -> None:
    dashboard = client_for(affiliate).get("/referrals/").content.decode()
    assert 'data-testid="statement-link"' in dashboard  # My referrals links it
    assert (
        'data-testid="statement-link"'
        not in client_for(referred["referral"].referred_user).get("/referrals/").content.decode()
    )
    own = client_for(affiliate).get("/referrals/statement/")
    assert own.status_code == 200 and 'data-cents="7880"' in own.content.decode()
    assert own.content.decode().count("data-month=") == 12
    other = client_for(referred["referral"].referred_user).get(f"/referrals/statement/?affiliate={affiliate.email}")
    assert other.status_code == 200 and 'data-testid="no-data"' in other.content.decode()
    assert "7880" not in other.content.decode()
    User.objects.filter(pk=affiliate.pk).update(language="ru")  # their stored language wins
    russian = client_for(affiliate).get("/referrals/statement/").content.decode()
    assert "Ваша доля выручки" in russian and "Исходящий остаток" in russian
    assert client_for().get("/referrals/statement/").status_code == 302  # log in first
