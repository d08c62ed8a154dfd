"""Staff analytics by program and rule (issue 11): the hand-counted referral world of
tests/growth_support.py, with Bob moved to a VIP program by an override, against the API and the
page; the breakdown's revenue is the economics' (one statement for both); non-staff refused."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from billing.models import LedgerEntry
from referrals.models import Referral
from rewards import analytics
from rewards.models import PointsEntry, PointsKind, ProgramOverride, ReferralProgram, Reward, RewardRule
from rewards.services import program_current
from tests.factories import UserFactory
from tests.growth_support import ClientFor

pytestmark = pytest.mark.django_db

RANGE = "start=2026-01-01&end=2026-03-31"


@pytest.fixture
def staff(public_tenant: Any) -> Any:
    return UserFactory(email="staff@dentaltap.example", is_staff=True)


def house_program_since_2025() -> ReferralProgram:
    """The default program of a test database starts when its migration ran (today): the
    world's referrals of early 2026 are older. It ran since 2025 here."""
    house = program_current()
    ReferralProgram.objects.filter(pk=house.pk).update(starts_at=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC))
    return house


@pytest.fixture
def two_programs(referral_world: dict[str, Any]) -> dict[str, Any]:
    """Bob refers under "VIP" (an override since Jan 1st): b1's reward is VIP's, with 300 points
    from a VIP points rule as well. Every reward is dated at its payment (inside the range)."""
    house = house_program_since_2025()
    vip = ReferralProgram.objects.create(
        name="VIP", starts_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC), budget_cents=100_000
    )
    vip_rule = RewardRule.objects.create(program=vip, name="VIP $50", amount_cents=5000)
    vip_points = RewardRule.objects.create(program=vip, name="VIP points", structure="points", points=300)
    ProgramOverride.objects.create(referrer=referral_world["bob"], program=vip)
    b1_reward = Reward.objects.get(referral=referral_world["b1"])
    Reward.objects.filter(pk=b1_reward.pk).update(program=vip, rule=vip_rule)
    points_reward = Reward.objects.create(
        referral=referral_world["b1"], referrer=referral_world["bob"], recipient_user=referral_world["bob"],
        beneficiary_practice=b1_reward.beneficiary_practice, qualifying_payment=b1_reward.qualifying_payment,
        program=vip, rule=vip_points, points=300, currency="usd", status="credited",
        hold_until=b1_reward.hold_until,
    )  # fmt: skip
    entry = PointsEntry.objects.create(
        user=referral_world["bob"], kind=PointsKind.REWARD, points=300, reward=points_reward, description="VIP"
    )
    PointsEntry.objects.filter(pk=entry.pk).update(created_at=datetime.datetime(2026, 3, 10, tzinfo=datetime.UTC))
    for reward in Reward.objects.select_related("qualifying_payment"):
        Reward.objects.filter(pk=reward.pk).update(created_at=reward.qualifying_payment.paid_at)
    return {"vip": vip, "vip_rule": vip_rule, "vip_points": vip_points, "default": house}


def test_figures_by_program_and_rule_match_the_hand_count(
    two_programs: dict[str, Any], staff: Any, client_for: ClientFor
) -> None:
    body = client_for(staff).get(f"/api/staff/referrals/analytics/?{RANGE}").json()
    default, vip = two_programs["default"], two_programs["vip"]
    by_program = {row["key"]: row for row in body["by_program"]}
    assert set(by_program) == {f"program:{default.pk}", f"program:{vip.pk}"}
    house, bobs = by_program[f"program:{default.pk}"], by_program[f"program:{vip.pk}"]
    # Alice's six signups (r1-r6) are the default program's; P1 and P4 stand paid. Her rewards:
    # r1 credited, r2 clawed back, r4 pending (r3 was cancelled: never owed). Cost: +5000 +5000
    # -5000. Revenue: P1 4900 x 2 + P4 9900.
    assert (house["signups"], house["paid"], house["rewards"], house["reward_cost_cents"]) == (6, 2, 3, 5000)
    assert (house["revenue_cents"], house["paying_practices"], house["roi"], house["points"]) == (19700, 2, 2.94, 0)
    # Bob's two signups are VIP's (his override ran since Jan 1st); b1 paid 4900 and earned
    # $50 and 300 points.
    assert (bobs["signups"], bobs["paid"], bobs["rewards"], bobs["reward_cost_cents"]) == (2, 1, 2, 5000)
    assert (bobs["revenue_cents"], bobs["paying_practices"], bobs["roi"], bobs["points"]) == (4900, 1, -0.02, 300)
    # The programs add up to the economics: the same revenue statement.
    assert house["revenue_cents"] + bobs["revenue_cents"] == body["economics"]["referred_revenue_cents"]
    assert house["paying_practices"] + bobs["paying_practices"] == body["economics"]["paying_referred_practices"]

    by_rule = {row["key"]: row for row in body["by_rule"]}
    base_rule = default.rules.order_by("pk").first()
    base = by_rule[f"rule:{base_rule.pk}"]
    assert (base["rewards"], base["rewarded_referrals"], base["reward_cost_cents"], base["revenue_cents"]) == (
        3, 3, 5000, 19700,
    )  # fmt: skip
    assert base["signups"] is None and base["program_name"] == default.name
    vip_money, vip_points = (
        by_rule[f"rule:{two_programs['vip_rule'].pk}"],
        by_rule[f"rule:{two_programs['vip_points'].pk}"],
    )
    assert (vip_money["reward_cost_cents"], vip_money["revenue_cents"], vip_money["roi"]) == (5000, 4900, -0.02)
    # A practice rewarded by two rules counts in both; points cost no cents (no ROI).
    assert (vip_points["points"], vip_points["reward_cost_cents"], vip_points["revenue_cents"], vip_points["roi"]) == (
        300, 0, 4900, None,
    )  # fmt: skip

    html = client_for(staff).get(f"/staff/referrals/?{RANGE}").content.decode()
    assert f'<tr data-row="program:{vip.pk}"><td>VIP</td><td data-figure="signups">2</td>' in html
    assert 'data-figure="revenue_cents" data-cents="19700">$197.00<' in html
    assert 'data-testid="by-rule"' in html and "VIP points" in html


def test_a_referral_under_no_program_and_an_ended_program(
    referral_world: dict[str, Any], staff: Any, client_for: ClientFor
) -> None:
    """The default program ended on Feb 1st and nothing replaced it: January's signups are its,
    February's and March's under no program (a counted window, not the cohorts' totals)."""
    house = house_program_since_2025()
    ReferralProgram.objects.filter(pk=house.pk).update(ends_at=datetime.datetime(2026, 2, 1, tzinfo=datetime.UTC))
    body = client_for(staff).get(f"/api/staff/referrals/analytics/?{RANGE}").json()
    signups = {row["key"]: (row["signups"], row["paid"]) for row in body["by_program"]}
    # r1-r4 in January (P1, P4 paid); r5, r6, b1 (P6 paid), b2 later.
    assert signups[f"program:{house.pk}"] == (4, 2)
    assert signups["none"] == (4, 1)
    assert sum(value[0] for value in signups.values()) == Referral.objects.count()


def test_the_breakdown_costs_no_second_revenue_pass(referral_world: dict[str, Any]) -> None:
    """The economics take their referred revenue from the breakdown's statement."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    period_range = analytics.DateRange(datetime.date(2026, 1, 1), datetime.date(2026, 3, 31))
    with CaptureQueriesContext(connection) as queries:
        figures = analytics.analytics_build(period_range=period_range)
    revenue_statements = [query["sql"] for query in queries.captured_queries if "billing_payment p" in query["sql"]]
    assert len(revenue_statements) == 1
    assert figures.economics["referred_revenue_cents"] == 24600
    assert LedgerEntry.objects.count() == 4  # the world is as growth_support wrote it


def test_only_staff_see_the_figures_by_program(two_programs: dict[str, Any], client_for: ClientFor) -> None:
    alice = Referral.objects.order_by("pk").first().referrer  # owns a practice: owners are not staff
    api = client_for(alice).get(f"/api/staff/referrals/analytics/?{RANGE}")
    assert api.status_code == 403 and "by_program" not in api.json() and "error" in api.json()
    page = client_for(alice).get(f"/staff/referrals/?{RANGE}")
    assert page.status_code == 403 and "VIP" not in page.content.decode()


def test_a_practice_a_partner_code_brought_counts_under_the_partners_program(
    referral_world: dict[str, Any], staff: Any, client_for: ClientFor
) -> None:
    """program_for's first rule: a partner-coded practice earns under its partner's program, so
    its signup and revenue are that program's, not the referrer's (Bob's) default."""
    from rewards.models import PartnerProgram
    from tests.partner_support import a_batch, a_partner

    house = house_program_since_2025()
    supplies = ReferralProgram.objects.create(
        name="Supplier codes", starts_at=datetime.datetime(2025, 6, 1, tzinfo=datetime.UTC)
    )
    partner = a_partner()
    PartnerProgram.objects.create(partner=partner, program=supplies)
    code = a_batch(partner, shared_code="MOLAR2026").codes.get()
    Referral.objects.filter(pk=referral_world["b1"].pk).update(source="partner", partner_code=code)
    body = client_for(staff).get(f"/api/staff/referrals/analytics/?{RANGE}").json()
    rows = {row["key"]: row for row in body["by_program"]}
    supplier_row, house_row = rows[f"program:{supplies.pk}"], rows[f"program:{house.pk}"]
    assert (supplier_row["signups"], supplier_row["paid"], supplier_row["revenue_cents"]) == (1, 1, 4900)
    assert (house_row["signups"], house_row["paid"], house_row["revenue_cents"]) == (7, 2, 19700)
    assert house_row["revenue_cents"] + supplier_row["revenue_cents"] == body["economics"]["referred_revenue_cents"]
