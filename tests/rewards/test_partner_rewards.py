"""A partner-coded practice: its benefit reaches Stripe at checkout through the SDK (a coupon in
`discounts`, a trial in `subscription_data`), the partner is rewarded under the partner's
program exactly once whatever the replays, and the practice counts in the cohorts' partner-code
channel."""

from __future__ import annotations

import csv
import datetime
import io
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import account_signup
from billing import stripe_gateway
from billing.models import LedgerEntry, PracticeAccount
from billing.standin.checkout_page import amount_due
from rewards import crediting
from rewards.models import PartnerProgram, ReferralProgram, Reward, RewardRule, RewardStatus
from tenants.models import Practice, User
from tests.billing_support import post_event, process_all
from tests.concurrency import run_together
from tests.conftest import practice_schema_creation_skipped
from tests.factories import UserFactory
from tests.growth_support import PASSWORD
from tests.partner_support import a_batch
from tests.stripe_helpers import Standin, invoice_paid

Pair = tuple[User, Practice]


def _partnered(make_practice: Callable[..., Pair], **batch: Any) -> dict[str, Any]:
    """A supplier (a partner whose account has its own practice) and a practice its code brought."""
    from referrals.models import Partner

    supplier, supplier_practice = make_practice("supplier")
    partner = Partner.objects.create(name="Molar Supplies", account=supplier)
    code = a_batch(partner, shared_code="MOLAR2026", **batch).codes.get()
    with practice_schema_creation_skipped():
        result = account_signup(
            email="new@example.com",
            password=PASSWORD,
            full_name="Dr. New",
            practice_name="New Dental",
            practice_slug="new-dental",
            partner_code="molar2026",
        )
    return {"partner": partner, "code": code, "supplier_practice": supplier_practice, **result.__dict__}


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_the_coupon_and_the_trial_reach_the_checkout_session_over_http(
    make_practice: Callable[..., Pair], client_for: Callable[..., Client], stripe_standin: Standin
) -> None:
    stripe_gateway.client().v1.coupons.create(params={"id": "SUPPLIER20", "percent_off": 20, "duration": "once"})
    world = _partnered(make_practice, trial_days=30, stripe_coupon_id="SUPPLIER20")
    response = client_for(world["user"], world["practice"]).post("/billing/checkout/pro/")
    assert response.status_code == 302 and response["Location"].startswith(f"{stripe_standin.url}/checkout/")

    (call,) = stripe_standin.writes("/v1/checkout/sessions")
    assert call["params"]["discounts"] == [{"coupon": "SUPPLIER20"}]
    assert call["params"]["subscription_data"]["trial_period_days"] == "30"
    session = next(iter(stripe_standin.state.sessions.values()))
    assert session["discounts"][0]["coupon"]["percent_off"] == 20
    with urllib.request.urlopen(response["Location"]) as page:  # noqa: S310 - the loopback stand-in
        assert "0.00 USD" in page.read().decode()  # the trial: nothing due today
    assert amount_due({"discounts": session["discounts"]}, 4900) == 3920  # after the trial: 20% off


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_a_coupon_stripe_does_not_know_refuses_the_checkout_with_a_message(
    make_practice: Callable[..., Pair], client_for: Callable[..., Client], stripe_standin: Standin
) -> None:
    world = _partnered(make_practice, trial_days=0, stripe_coupon_id="GONE")
    response = client_for(world["user"], world["practice"]).post("/billing/checkout/pro/", follow=True)
    assert response.status_code == 200
    assert "No such coupon" in response.content.decode()
    assert stripe_standin.writes("/v1/checkout/sessions")[0]["outcome"] == "refused"


@pytest.mark.django_db(transaction=True)
@pytest.mark.practice_rows_only
def test_the_partner_is_rewarded_under_its_program_once_whatever_the_replays(
    make_practice: Callable[..., Pair], stripe_standin: Standin
) -> None:
    world = _partnered(make_practice)
    program = ReferralProgram.objects.create(name="Suppliers", starts_at=timezone.now() - datetime.timedelta(days=1))
    RewardRule.objects.create(
        program=program, name="$30 per coded practice", trigger="first_payment", recipient="referrer",
        structure="flat", amount_cents=3000, hold_days=0,
    )  # fmt: skip
    PartnerProgram.objects.create(partner=world["partner"], program=program)
    PracticeAccount.objects.filter(practice=world["practice"]).update(stripe_customer_id="cus_coded")
    event = invoice_paid(customer="cus_coded", invoice_id="in_coded_1")

    assert run_together(*[lambda: post_event(event).status_code for _ in range(8)]) == [200] * 8
    run_together(*[process_all for _ in range(4)])
    reward = Reward.objects.get()
    assert (reward.program, reward.amount_cents, reward.referrer) == (program, 3000, world["partner"].account)
    assert reward.beneficiary_practice_id == world["supplier_practice"].pk
    outcomes = run_together(*[lambda: crediting.reward_credit(reward_pk=reward.pk) for _ in range(4)])
    assert RewardStatus.CREDITED in outcomes
    assert Reward.objects.get().status == RewardStatus.CREDITED
    assert LedgerEntry.objects.count() == 1
    assert len({call["idempotency_key"] for call in stripe_standin.writes("balance_transactions")}) == 1


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_a_partner_without_a_program_link_earns_under_the_default_program(
    make_practice: Callable[..., Pair],
) -> None:
    world = _partnered(make_practice)
    PracticeAccount.objects.filter(practice=world["practice"]).update(stripe_customer_id="cus_coded")
    post_event(invoice_paid(customer="cus_coded", invoice_id="in_coded_2"))
    process_all()
    assert Reward.objects.get().program.is_default


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_partner_code_practices_are_their_own_channel_in_the_cohorts(
    make_practice: Callable[..., Pair], client_for: Callable[..., Client]
) -> None:
    _partnered(make_practice)
    Practice.objects.filter(slug="supplier").update(created_at=timezone.now() - datetime.timedelta(days=400))
    staff = UserFactory(email="staff@example.com", is_staff=True)
    page = client_for(staff).get("/staff/onboarding/cohorts/")
    rows = {row.channel: row for row in page.context["rows"]}
    assert rows["partner"].practices == 1 and rows["partner"].channel_label == "Partner code"
    assert b'data-channel="partner"' in page.content
    export = client_for(staff).get("/staff/onboarding/cohorts.csv")
    lines = {line["channel"]: line["practices"] for line in csv.DictReader(io.StringIO(export.content.decode()))}
    assert lines["partner"] == "1" and lines["all"] == "1"
