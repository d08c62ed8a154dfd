"""*My referrals* per program (issue 11): what the referrer earns in words, pending and earned,
tier progress to the next bonus and the top tier, a cap shown as the maximum reached; points
(below zero said as such); the referred dentist's half of a two-sided reward on their dashboard
and Billing page; and every figure the user's own (the attacker's side)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from referrals.models import Referral
from rewards.models import CatalogueItem, PointsEntry, PointsKind, Redemption, Reward, RewardRule
from tenants.models import User
from tests.billing_support import Pair, default_rule_set
from tests.points_support import qualify, referral_paid

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiered(make_practice: Callable[..., Pair]) -> dict[str, Any]:
    """The house $50 rule, a $100 bonus on the 3rd paid referral and $250 on the 10th (the
    maximum); the referrer has two paid referrals."""
    base = default_rule_set(cap_count=20)
    program = base.program
    RewardRule.objects.create(program=program, name="Bonus at 3", amount_cents=10000, condition="nth_paid", threshold=3)
    RewardRule.objects.create(
        program=program, name="Bonus at 10", amount_cents=25000, condition="nth_paid", threshold=10
    )
    referrer, _home = make_practice("tier-referrer", schema=False)
    User.objects.filter(pk=referrer.pk).update(full_name="Dr. Tia Tier")
    for index in range(2):
        qualify(referral_paid(make_practice, referrer, f"tiered{index}"))
    return {"referrer": referrer, "program": program}


def test_the_panel_says_what_the_referrer_earns_and_how_far_the_next_bonus_is(
    tiered: dict[str, Any], client_for: Any
) -> None:
    body = client_for(tiered["referrer"]).get("/api/referrals/dashboard/").json()
    [panel] = body["programs"]
    assert panel["is_current"] and panel["name"] == tiered["program"].name
    assert (
        "You get $50.00 when a practice you referred pays its first invoice, credited 14 days later." in panel["rules"]
    )
    assert not any("(your paid referral number 3)" in words for words in panel["rules"])  # a tier step instead
    assert (panel["pending_count"], panel["pending_cents"], panel["earned_cents"]) == (2, 10000, 0)
    tiers = panel["tiers"]
    assert tiers["words"] == "2 of 3 paid referrals to the next bonus."
    assert (tiers["paid"], tiers["next_threshold"], tiers["percent"], tiers["maximum_reached"]) == (2, 3, 66, False)
    assert [(step["threshold"], step["reached"]) for step in tiers["steps"]] == [(3, False), (10, False)]
    assert "(your paid referral number 3)" in tiers["steps"][0]["words"]

    html = client_for(tiered["referrer"]).get("/referrals/").content.decode()
    assert "2 of 3 paid referrals to the next bonus." in html
    assert '<progress value="66" max="100" data-testid="tier-bar"' in html
    assert 'data-figure="program-pending">$100.00<' in html


def test_the_top_tier_and_a_reached_cap_are_shown_as_the_maximum(
    tiered: dict[str, Any], make_practice: Callable[..., Pair], client_for: Any
) -> None:
    referrer = tiered["referrer"]
    base = default_rule_set(cap_count=5, cap_period="lifetime")
    for index in range(2, 10):
        qualify(referral_paid(make_practice, referrer, f"tiered{index}"))
    panel = client_for(referrer).get("/api/referrals/dashboard/").json()["programs"][0]
    assert panel["tiers"]["maximum_reached"] and panel["tiers"]["next_threshold"] is None
    assert panel["tiers"]["words"] == "Top tier reached: 10 paid referrals (the highest tier is 10)."
    assert panel["maximums"] == [f"Maximum reached: {base.name} pays at most 5 rewards per referrer."]
    html = client_for(referrer).get("/referrals/").content.decode()
    assert 'data-maximum="yes"' in html and 'data-testid="maximum-reached"' in html


def test_a_user_never_sees_another_referrers_figures(
    tiered: dict[str, Any], make_practice: Callable[..., Pair], client_for: Any
) -> None:
    other, _home = make_practice("other-referrer", schema=False)
    PointsEntry.objects.create(
        user=tiered["referrer"], kind=PointsKind.REWARD, points=500, description="x",
        reward=Reward.objects.filter(referrer=tiered["referrer"]).first(),
    )  # fmt: skip
    body = client_for(other).get("/api/referrals/dashboard/").json()
    [panel] = body["programs"]
    assert (panel["pending_count"], panel["pending_cents"], panel["earned_cents"]) == (0, 0, 0)
    assert panel["tiers"]["paid"] == 0 and panel["tiers"]["words"] == "0 of 3 paid referrals to the next bonus."
    assert body["points"]["balance"] == 0 and body["received"] == []
    html = client_for(other).get("/referrals/").content.decode()
    assert 'data-figure="program-pending">$0.00<' in html and "Dr. Tia Tier" not in html
    catalogue = client_for(other).get("/api/referrals/rewards/").json()
    assert catalogue["balance"] == 0 and catalogue["redemptions"] == []


def test_the_referred_dentist_sees_what_they_received(make_practice: Callable[..., Pair], client_for: Any) -> None:
    """Two-sided: the referred practice's half is on its owner's dashboard and Billing page."""
    default_rule_set(recipient="both", amount_cents=2500)
    referrer, _home = make_practice("two-sided-referrer", schema=False)
    User.objects.filter(pk=referrer.pk).update(full_name="Dr. Rita Referrer")
    payment = referral_paid(make_practice, referrer, "welcomed")
    qualify(payment)
    newcomer = Referral.objects.get(referred_practice=payment.practice).referred_user
    body = client_for(newcomer).get("/api/referrals/dashboard/").json()
    [received] = body["received"]
    assert (received["value"], received["status"], received["referrer_name"]) == (
        "$25.00",
        "pending",
        "Dr. Rita Referrer",
    )
    assert "Credited on" in received["reason"]
    html = client_for(newcomer).get("/referrals/").content.decode()
    assert 'data-testid="received"' in html and "Dr. Rita Referrer" in html

    billing = client_for(newcomer, payment.practice).get("/api/billing/").json()
    [line] = billing["rewards"]
    assert line["received"] and line["value_label"] == "$25.00"
    page = client_for(newcomer, payment.practice).get("/billing/").content.decode()
    assert "Welcome reward: you joined through Dr. Rita Referrer&#x27;s link" in page
    # The referrer's own dashboard does not list the newcomer's half as theirs.
    assert client_for(referrer).get("/api/referrals/dashboard/").json()["received"] == []


def test_points_below_zero_are_said_plainly_and_redeem_nothing(
    make_practice: Callable[..., Pair], client_for: Any
) -> None:
    """A points reward reversed after its points were spent takes the balance below zero: the
    ledger keeps both facts (append-only), the page says what happened and what comes next."""
    default_rule_set(structure="points", amount_cents=0, points=100, hold_days=0)
    referrer, _home = make_practice("debtor", schema=False)
    qualify(referral_paid(make_practice, referrer, "spent"))
    reward = Reward.objects.get(referrer=referrer)
    PointsEntry.objects.create(user=referrer, kind=PointsKind.REWARD, points=100, reward=reward, description="+")
    item = CatalogueItem.objects.create(name="Pro month", cost_points=100)
    assert client_for(referrer).post(
        "/api/referrals/rewards/redemptions/", {"item": item.pk}, HTTP_IDEMPOTENCY_KEY="k1"
    ).status_code == 201  # fmt: skip
    PointsEntry.objects.create(
        user=referrer, kind=PointsKind.REWARD_REVERSED, points=-100, reward=reward, description="-"
    )
    body = client_for(referrer).get("/api/referrals/dashboard/").json()["points"]
    assert body["balance"] == -100 and body["below_zero"]
    assert body["words"].startswith("Your balance is 100 points below zero")
    html = client_for(referrer).get("/referrals/").content.decode()
    assert 'data-testid="points-below-zero"' in html and "pay this back first" in html
    refused = client_for(referrer).post(
        "/api/referrals/rewards/redemptions/", {"item": item.pk}, HTTP_IDEMPOTENCY_KEY="k2"
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "insufficient_points"
    assert Redemption.objects.count() == 1


def test_every_figure_waits_for_login(client_for: Any, public_tenant: Any) -> None:
    anonymous = client_for()
    assert anonymous.get("/referrals/rewards/").status_code == 302
    assert anonymous.get("/api/referrals/rewards/").status_code in (401, 403)
    assert anonymous.post("/api/referrals/rewards/redemptions/", {"item": 1}).status_code in (401, 403)
