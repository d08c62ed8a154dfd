"""Staff analytics by partner (issue 11): the hand-counted referral world of tests/growth_support.py
with two of its practices brought by partner codes, against the API and the page; the partners'
figures add up to the channel's (the same statements, no second pass over payments); non-staff
refused."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from referrals.models import Referral
from rewards import analytics
from rewards.models import AffiliateEntry, AffiliateEntryKind, PartnerProgram, ReferralProgram, Reward, RewardRule
from rewards.services import program_current
from tests.factories import UserFactory
from tests.growth_support import ClientFor
from tests.partner_support import a_batch, a_partner

pytestmark = pytest.mark.django_db

RANGE = "start=2026-01-01&end=2026-03-31"


def _at(day: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(f"{day}T12:00:00+00:00")


@pytest.fixture
def staff(public_tenant: Any) -> Any:
    return UserFactory(email="staff@dentaltap.example", is_staff=True)


@pytest.fixture
def partnered(referral_world: dict[str, Any]) -> dict[str, Any]:
    """Molar Supplies (its own program, "Supplier codes", with a 10% revenue share paid in cash)
    brought b1; Crown Labs (no program of its own) brought r4. Every reward is dated at its
    payment (inside the range); b1 also earned a 490-cent revenue share on Feb 20."""
    house = program_current()
    ReferralProgram.objects.filter(pk=house.pk).update(starts_at=_at("2025-01-01"))
    supplies = ReferralProgram.objects.create(name="Supplier codes", starts_at=_at("2025-06-01"))
    share = RewardRule.objects.create(
        program=supplies, name="Supplier share", structure="percent", basis_points=1000, trigger="paid_invoice",
        payout="cash",
    )  # fmt: skip
    molar, crown = a_partner("Molar Supplies"), a_partner("Crown Labs")
    PartnerProgram.objects.create(partner=molar, program=supplies)
    molar_code = a_batch(molar, shared_code="MOLAR2026").codes.get()
    crown_code = a_batch(crown, shared_code="CROWN2026").codes.get()
    b1, r4 = referral_world["b1"], referral_world["r4"]
    Referral.objects.filter(pk=b1.pk).update(source="partner", partner_code=molar_code)
    Referral.objects.filter(pk=r4.pk).update(source="partner", partner_code=crown_code)
    b1_reward = Reward.objects.get(referral=b1)
    shared = Reward.objects.create(
        referral=b1, referrer=b1.referrer, recipient_user=b1.referrer, payout="cash",
        beneficiary_practice=b1_reward.beneficiary_practice, qualifying_payment=b1_reward.qualifying_payment,
        program=supplies, rule=share, amount_cents=490, currency="usd", status="credited",
        hold_until=b1_reward.hold_until,
    )  # fmt: skip
    AffiliateEntry.objects.create(
        affiliate=b1.referrer, kind=AffiliateEntryKind.EARNED, amount_cents=490, reward=shared,
        occurred_at=_at("2026-02-20"),
    )  # fmt: skip
    for reward in Reward.objects.select_related("qualifying_payment"):
        Reward.objects.filter(pk=reward.pk).update(created_at=reward.qualifying_payment.paid_at)
    return {"molar": molar, "crown": crown, "supplies": supplies, "house": house}


def test_figures_by_partner_match_the_hand_count(partnered: dict[str, Any], staff: Any, client_for: ClientFor) -> None:
    body = client_for(staff).get(f"/api/staff/referrals/analytics/?{RANGE}").json()
    molar, crown = partnered["molar"], partnered["crown"]
    rows = {row["key"]: row for row in body["by_partner"]}
    # Partners by name, then the rest.
    assert list(rows) == [f"partner:{crown.pk}", f"partner:{molar.pk}", "none"]
    by_molar, by_crown, rest = rows[f"partner:{molar.pk}"], rows[f"partner:{crown.pk}"], rows["none"]
    # b1 (P6 paid 4900 on Feb 20): its $50 credit (Mar 10) and the 490-cent share paid in cash.
    assert (by_molar["signups"], by_molar["paid"], by_molar["rewards"], by_molar["rewarded_referrals"]) == (1, 1, 2, 1)
    assert (by_molar["reward_cost_cents"], by_molar["revenue_cents"], by_molar["paying_practices"]) == (5490, 4900, 1)
    assert by_molar["roi"] == -0.11 and by_molar["program_name"] == "Supplier codes"
    assert by_molar["partner_id"] == molar.pk and by_molar["program_id"] == partnered["supplies"].pk
    # r4 (P4 paid 9900 on Feb 5): its reward is pending, so no ledger entry yet: no cost, no ROI.
    assert (by_crown["signups"], by_crown["paid"], by_crown["rewards"], by_crown["reward_cost_cents"]) == (1, 1, 1, 0)
    assert (by_crown["revenue_cents"], by_crown["roi"], by_crown["program_name"]) == (9900, None, "")
    # The rest: r1, r2, r3, r5, r6, b2 (P1 paid); r1 credited, r2 credited then clawed back (r3
    # cancelled: never owed). Cost +5000 +5000 -5000; revenue P1 4900 x 2.
    assert (rest["signups"], rest["paid"], rest["rewards"], rest["reward_cost_cents"]) == (6, 1, 2, 5000)
    assert (rest["revenue_cents"], rest["paying_practices"], rest["roi"], rest["label"]) == (
        9800,
        1,
        0.96,
        "No partner",
    )

    # The partners add up to the channel: every signup, the economics' revenue, every program's cost.
    assert sum(row["signups"] for row in rows.values()) == Referral.objects.count() == 8
    assert sum(row["revenue_cents"] for row in rows.values()) == body["economics"]["referred_revenue_cents"]
    assert sum(row["reward_cost_cents"] for row in rows.values()) == sum(
        row["reward_cost_cents"] for row in body["by_program"]
    )

    html = client_for(staff).get(f"/staff/referrals/?{RANGE}").content.decode()
    assert 'data-testid="by-partner"' in html
    assert (
        f'<tr data-row="partner:{molar.pk}"><td>Molar Supplies <small class="muted">Supplier codes</small></td>'
        '<td data-figure="signups">1</td><td data-figure="paid">1</td><td data-figure="rewards">2</td>'
        '<td data-figure="reward_cost_cents" data-cents="5490">$54.90</td>'
    ) in html
    assert '<tr data-row="none"><td>No partner</td><td data-figure="signups">6</td>' in html


def test_the_breakdown_by_partner_costs_no_second_revenue_pass(partnered: dict[str, Any]) -> None:
    period_range = analytics.DateRange(datetime.date(2026, 1, 1), datetime.date(2026, 3, 31))
    with CaptureQueriesContext(connection) as queries:
        figures = analytics.analytics_build(period_range=period_range)
    assert len([query for query in queries.captured_queries if "billing_payment p" in query["sql"]]) == 1
    by_partner = {row.key: row.revenue_cents for row in figures.breakdowns["partner"]}
    assert sum(by_partner.values()) == figures.economics["referred_revenue_cents"] == 24600


def test_a_range_without_partners_has_one_row_for_everyone(referral_world: dict[str, Any], staff: Any) -> None:
    period_range = analytics.DateRange(datetime.date(2026, 1, 1), datetime.date(2026, 3, 31))
    rows = analytics.analytics_build(period_range=period_range).breakdowns["partner"]
    assert [(row.key, row.signups, row.partner_id) for row in rows] == [("none", 8, None)]


def test_only_staff_see_the_figures_by_partner(partnered: dict[str, Any], client_for: ClientFor) -> None:
    alice = Referral.objects.order_by("pk").first().referrer  # owns a practice: owners are not staff
    api = client_for(alice).get(f"/api/staff/referrals/analytics/?{RANGE}")
    assert api.status_code == 403 and "by_partner" not in api.json() and "error" in api.json()
    page = client_for(alice).get(f"/staff/referrals/?{RANGE}")
    assert page.status_code == 403 and "Molar Supplies" not in page.content.decode()
