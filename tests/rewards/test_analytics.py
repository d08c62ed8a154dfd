"""Staff referral analytics (issue 6): figures against the hand-counted world of
tests/growth_support.py (referral_world), access (staff only: not users, not practice owners),
date-range validation, the fraud review queue and its decisions, CSV exports."""

from __future__ import annotations

import csv
import datetime
import io
import re
from typing import Any

import pytest

from billing.models import Payment
from referrals.models import Eligibility, EligibilityReason, Referral
from rewards.models import Reward, RewardAction, RewardStatus
from rewards.services import program_current
from tenants.models import Practice
from tests.factories import UserFactory
from tests.growth_support import ClientFor, bare_practice

pytestmark = pytest.mark.django_db

RANGE = "start=2026-01-01&end=2026-03-31"


@pytest.fixture
def staff(public_tenant: Any) -> Any:
    return UserFactory(email="staff@dentaltap.example", is_staff=True)


def test_figures_match_the_hand_count(referral_world: dict[str, Any], staff: Any, client_for: ClientFor) -> None:
    response = client_for(staff).get(f"/api/staff/referrals/analytics/?{RANGE}&cohort=month")
    assert response.status_code == 200, response.content
    body = response.json()

    # Paying practices per month (a standing payment that month), and those that came by referral.
    assert body["channel_share"] == [
        {"month": "2026-01-01", "paying_practices": 2, "referred_practices": 1, "share": 0.5},  # P1, Q1
        {"month": "2026-02-01", "paying_practices": 4, "referred_practices": 3, "share": 0.75},  # P1, P4, P6, Q2
        {"month": "2026-03-01", "paying_practices": 1, "referred_practices": 0, "share": 0.0},  # Q3
    ]
    assert body["cohorts"] == [
        # Jan: 5 visits; r1-r4 signed up (r1 by invitation: no link visit, not in visit -> signup);
        # P1 and P4 stand paid (P2, P3 refunded); r1 credited.
        {"cohort": "2026-01-01", "visits": 5, "signups": 4, "link_signups": 3, "paid": 2, "rewards_credited": 1,
         "signup_rate": 0.6, "paid_rate": 0.5, "reward_rate": 0.5},
        # Feb: 2 + 1 visits; r5, r6, b1; P6 paid; b1 credited.
        {"cohort": "2026-02-01", "visits": 3, "signups": 3, "link_signups": 3, "paid": 1, "rewards_credited": 1,
         "signup_rate": 1.0, "paid_rate": 0.3333, "reward_rate": 1.0},
        # Mar: Bob's 2 visits; b2, unpaid.
        {"cohort": "2026-03-01", "visits": 2, "signups": 1, "link_signups": 1, "paid": 0, "rewards_credited": 0,
         "signup_rate": 0.5, "paid_rate": 0.0, "reward_rate": None},
    ]  # fmt: skip
    assert body["economics"] == {
        "rewards_credited_cents": 15000,  # r1, r2, b1
        "rewards_clawed_back_cents": 5000,  # r2
        "net_reward_cost_cents": 10000,
        "referred_revenue_cents": 24600,  # P1 4900 x 2 + P4 9900 + P6 4900; refunds excluded
        "paying_referred_practices": 3,
        "roi": 1.46,  # (24600 - 10000) / 10000
        "average_reward_cost_cents": 3333,  # 10000 / 3
        "currency": "usd",
    }
    alice, bob = referral_world["alice"], referral_world["bob"]
    assert [
        (row["referrer_id"], row["signups"], row["paid"], row["not_eligible"]) for row in body["top_referrers"]
    ] == [
        (alice.pk, 6, 2, 1),
        (bob.pk, 2, 1, 0),
    ]

    weekly = client_for(staff).get("/api/staff/referrals/analytics/?start=2026-01-05&end=2026-01-11&cohort=week")
    cohorts = weekly.json()["cohorts"]
    assert [(row["cohort"], row["visits"], row["signups"], row["paid"]) for row in cohorts] == [
        ("2026-01-05", 2, 4, 2)  # visits Jan 5 and 6; r1-r4 in the week of Monday Jan 5
    ]

    queue = client_for(staff).get("/api/staff/referrals/review-queue/").json()
    assert [row["id"] for row in queue] == [referral_world["r5"].pk, referral_world["r6"].pk]
    assert queue[1]["signup_ip"] == "203.0.113.9" and queue[1]["eligibility_reason"] == "disposable_email"


def test_the_page_shows_the_same_figures(referral_world: dict[str, Any], staff: Any, client_for: ClientFor) -> None:
    page = client_for(staff).get(f"/staff/referrals/?{RANGE}&cohort=month")
    assert page.status_code == 200
    html = page.content.decode()
    # Money as money (never "15000 ... (cents)"), months and shares in words.
    assert 'data-figure="rewards_credited_cents" data-cents="15000">$150.00<' in html
    assert 'data-figure="rewards_clawed_back_cents" data-cents="5000">$50.00<' in html
    assert 'data-figure="referred_revenue_cents" data-cents="24600">$246.00<' in html
    assert 'data-figure="roi">1.46<' in html
    assert 'data-figure="average_reward_cost_cents" data-cents="3333">$33.33<' in html
    assert "(cents)" not in html
    assert '<tr data-month="2026-02-01"><td>February 2026</td><td>4</td><td>3</td><td>75%</td></tr>' in html
    assert f'data-review="{referral_world["r6"].pk}"' in html and "sam@mailinator.com" in html
    assert "/staff/referrals/export/referrals.csv?start=2026-01-01&amp;end=2026-03-31&amp;cohort=month" in html
    default = client_for(staff).get("/staff/referrals/")  # no filter: the last 12 months
    assert default.status_code == 200 and 'data-testid="economics"' in default.content.decode()


def test_visit_to_signup_is_never_above_100_percent(
    referral_world: dict[str, Any], staff: Any, client_for: ClientFor
) -> None:
    """Invitation signups never open a referral link: counted against link visits they gave
    "Visit -> signup 275%". Now only link signups count, and a period with more link signups
    than visits (their visits were earlier) has no rate at all."""
    from invitations.models import Invitation

    bob, bob_home = referral_world["bob"], Practice.objects.get(slug="bob-home")
    invitation = Invitation.objects.create(
        practice=bob_home, invited_by=bob, email="many@example.com", token_hash="y" * 64,
        expires_at=datetime.datetime(2026, 4, 1, tzinfo=datetime.UTC),
    )  # fmt: skip
    for number in range(8):  # March: 2 link visits, 1 link signup, now 8 invitation signups more
        row = Referral.objects.create(
            referrer=bob, referred_user=UserFactory(), source="invitation", invitation=invitation,
            eligibility=Eligibility.ELIGIBLE,
        )  # fmt: skip
        march = datetime.datetime(2026, 3, 3 + number, tzinfo=datetime.UTC)
        Referral.objects.filter(pk=row.pk).update(created_at=march)
    for number in range(3):  # April: link signups whose visits were in March
        row = Referral.objects.create(
            referrer=bob, referred_user=UserFactory(), source="link", eligibility=Eligibility.ELIGIBLE
        )
        april = datetime.datetime(2026, 4, 2 + number, tzinfo=datetime.UTC)
        Referral.objects.filter(pk=row.pk).update(created_at=april)

    body = client_for(staff).get("/api/staff/referrals/analytics/?start=2026-01-01&end=2026-04-30").json()
    march, april = body["cohorts"][2], body["cohorts"][3]
    assert (march["visits"], march["signups"], march["link_signups"], march["signup_rate"]) == (2, 9, 1, 0.5)
    assert (april["visits"], april["link_signups"], april["signup_rate"]) == (0, 3, None)
    assert all(row["signup_rate"] is None or row["signup_rate"] <= 1 for row in body["cohorts"])

    html = client_for(staff).get("/staff/referrals/?start=2026-01-01&end=2026-04-30").content.decode()
    shares = [int(value) for value in re.findall(r"<td>(\d+)%</td>", html)]
    assert shares and max(shares) <= 100 and "450%" not in html


def test_staff_tables_leave_out_empty_months(referral_world: dict[str, Any], staff: Any, client_for: ClientFor) -> None:
    """A year's range with figures in three months shows those three rows, not nine zero rows
    around them; a range with nothing shows one "no data" row. The API keeps every period."""
    client = client_for(staff)
    year = "start=2025-06-01&end=2026-05-31"
    html = client.get(f"/staff/referrals/?{year}").content.decode()
    assert re.findall(r'data-month="([\d-]+)"', html) == ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert re.findall(r'data-cohort="([\d-]+)"', html) == ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert len(client.get(f"/api/staff/referrals/analytics/?{year}").json()["channel_share"]) == 12

    empty = client.get("/staff/referrals/?start=2024-01-01&end=2024-12-31").content.decode()
    assert "data-month=" not in empty and "data-cohort=" not in empty
    assert empty.count('data-testid="no-data"') == 2
    assert "No payments in this range." in empty


def test_staff_analytics_is_refused_to_everyone_but_staff(
    referral_world: dict[str, Any], client_for: ClientFor
) -> None:
    alice = referral_world["alice"]  # owns a practice: owners are not staff
    r6 = referral_world["r6"]
    anonymous = client_for().get("/staff/referrals/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")
    for user in (alice, UserFactory()):
        client = client_for(user)
        assert client.get("/staff/referrals/").status_code == 403
        assert client.get(f"/staff/referrals/export/referrals.csv?{RANGE}").status_code == 403
        assert client.get(f"/staff/referrals/export/rewards.csv?{RANGE}").status_code == 403
        assert client.post(f"/staff/referrals/review/{r6.pk}/", {"decision": "approve"}).status_code == 403
        assert client.get("/api/staff/referrals/analytics/").status_code == 403
        assert client.get("/api/staff/referrals/review-queue/").status_code == 403
        refused = client.post(f"/api/staff/referrals/{r6.pk}/review/", {"decision": "approve"})
        assert refused.status_code == 403 and "error" in refused.json()
    assert client_for().get("/api/staff/referrals/analytics/").status_code in (401, 403)
    r6.refresh_from_db()
    assert r6.eligibility == Eligibility.REVIEW and r6.reviewed_at is None  # nothing changed


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start=2026-03-01&end=2026-01-01", "end", "The end date is before the start date."),
        ("start=2020-01-01&end=2026-03-01", "end", "Choose a range of at most 5 years."),
        ("start=yesterday&end=2026-03-01", "start", "Enter a date as YYYY-MM-DD."),
        ("start=2026-02-30&end=2026-03-01", "start", "Enter a date as YYYY-MM-DD."),
        ("start=1999-01-01&end=2000-01-01", "start", "Choose dates between"),
        ("start=2026-01-01&end=2026-02-01&cohort=decade", "cohort", "Select a valid choice."),
    ],
)
def test_bad_date_ranges_are_a_400_with_a_message(
    staff: Any, client_for: ClientFor, query: str, field: str, message: str
) -> None:
    client = client_for(staff)
    response = client.get(f"/api/staff/referrals/analytics/?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] in ("invalid_range",) and message in error["message"] and message in error["fields"][field][0]

    page = client.get(f"/staff/referrals/?{query}")
    assert page.status_code == 400 and message in page.content.decode()
    assert 'data-testid="form-error"' in page.content.decode()
    export = client.get(f"/staff/referrals/export/referrals.csv?{query}")
    assert export.status_code == 400 and message in export.content.decode()


def _held_referral(referrer: Any) -> tuple[Referral, Reward]:
    """A flagged referral whose first payment created a reward held for review."""
    practice = bare_practice(f"held-{referrer.pk}")
    referral = Referral.objects.create(
        referrer=referrer,
        referred_user=UserFactory(),
        referred_practice=practice,
        source="link",
        eligibility=Eligibility.REVIEW,
        eligibility_reason=EligibilityReason.SHARED_IP,
        signup_ip="198.51.100.7",
    )
    payment = Payment.objects.create(
        stripe_invoice_id=f"in_held_{referrer.pk}",
        practice=practice,
        stripe_customer_id="cus_held",
        amount_cents=4900,
        currency="usd",
        paid_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    )
    reward = Reward.objects.create(
        referral=referral,
        referrer=referrer,
        beneficiary_practice=practice,
        qualifying_payment=payment,
        program=program_current(),
        rule=program_current().rules.order_by("pk").first(),
        amount_cents=5000,
        currency="usd",
        status=RewardStatus.ON_HOLD,
        hold_until=datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC),  # not due: approving queues nothing
    )
    return referral, reward


def test_review_approve_and_reject(referral_world: dict[str, Any], staff: Any, client_for: ClientFor) -> None:
    api = client_for(staff)
    referral, reward = _held_referral(referral_world["alice"])
    approved = api.post(f"/api/staff/referrals/{referral.pk}/review/", {"decision": "approve", "note": "same clinic"})
    assert approved.status_code == 200, approved.content
    assert approved.json()["eligibility"] == "eligible" and approved.json()["reward_status"] == "pending"
    referral.refresh_from_db()
    reward.refresh_from_db()
    assert (referral.eligibility, referral.eligibility_reason, referral.reviewed_by) == ("eligible", "", staff)
    assert reward.status == RewardStatus.PENDING
    assert RewardAction.objects.filter(reward=reward, actor=staff, to_status="pending").exists()

    r6, r5 = referral_world["r6"], referral_world["r5"]
    page = client_for(staff).post(f"/staff/referrals/review/{r6.pk}/", {"decision": "reject", "note": "farm"})
    assert page.status_code == 302
    r6.refresh_from_db()
    assert (r6.eligibility, r6.eligibility_reason) == (Eligibility.INELIGIBLE, EligibilityReason.DISPOSABLE_EMAIL)
    assert "Rejected by staff" in r6.eligibility_note and r6.reviewed_at is not None
    api.post(f"/api/staff/referrals/{r5.pk}/review/", {"decision": "approve"})
    assert [row["id"] for row in api.get("/api/staff/referrals/review-queue/").json()] == []  # all decided

    # The referrer now reads the decisions, in plain words.
    rows = {row["name"]: row for row in client_for(referral_world["alice"]).get(
        "/api/referrals/dashboard/referrals/").json()["results"]}  # fmt: skip
    assert rows["Sam Throwaway"]["status"] == "not_eligible" and "reviewed" in rows["Sam Throwaway"]["reason"]
    assert rows["Rosa Vel"]["status"] == "signed_up"

    held_referral, _reward = _held_referral(referral_world["bob"])
    rejected = api.post(f"/api/staff/referrals/{held_referral.pk}/review/", {"decision": "reject"})
    assert rejected.status_code == 200 and rejected.json()["reward_status"] == "rejected"

    unknown = api.post("/api/staff/referrals/999999999/review/", {"decision": "approve"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert client_for(staff).post("/staff/referrals/review/999999999/", {"decision": "approve"}).status_code == 404
    invalid = api.post(f"/api/staff/referrals/{r5.pk}/review/", {"decision": "maybe"})
    assert invalid.status_code == 400 and "decision" in invalid.json()["error"]["fields"]


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert response.streaming and "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_exports(referral_world: dict[str, Any], staff: Any, client_for: ClientFor) -> None:
    referral_world["r6"].referred_user.__class__.objects.filter(pk=referral_world["r6"].referred_user_id).update(
        full_name='=HYPERLINK("http://evil")'
    )
    client = client_for(staff)
    referrals = _csv(client.get(f"/staff/referrals/export/referrals.csv?{RANGE}"))
    assert len(referrals) == 8
    by_email = {row["referred_email"]: row for row in referrals}
    assert by_email["nina.kraus@example.com"]["paid"] == "True"
    assert by_email["nina.kraus@example.com"]["reward_status"] == "credited"
    assert by_email["oleg@example.com"]["paid"] == "False"  # refunded
    assert by_email["sam@mailinator.com"]["referred_name"].startswith("'=")  # no formula in a spreadsheet
    assert by_email["sam@mailinator.com"]["signup_ip"] == "203.0.113.9"

    rewards = _csv(client.get(f"/staff/referrals/export/rewards.csv?{RANGE}"))
    # Rewards are filtered on their creation (today, in this fixture): a range covering today.
    assert rewards == []
    rewards = _csv(client.get("/staff/referrals/export/rewards.csv"))
    net = {row["qualifying_invoice"]: (row["status"], row["ledger_net_cents"]) for row in rewards}
    assert net == {
        "in_p1_jan": ("credited", "5000"),
        "in_p2": ("clawed_back", "0"),
        "in_p3": ("cancelled", "0"),
        "in_p4": ("pending", "0"),
        "in_p6": ("credited", "5000"),
    }
