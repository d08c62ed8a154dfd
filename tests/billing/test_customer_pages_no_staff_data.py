"""What staff write or the system notes internally never reaches a customer page or API.

A reward's `reason` is where a staff decision's note lands (billing.reward_services.reward_review);
`last_error` holds Stripe's error text; a referral's eligibility note and signup IP are fraud
signals. Each is planted with a marker here, then every page and API a practice member or a
referrer can open is read, and the markers must be absent while the plain-language reason,
built from the status, is there."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from billing.models import Payment
from referrals.models import AccessRequest, Eligibility, EligibilityReason, Referral
from rewards.models import Reward, RewardAction, RewardStatus
from rewards.services import program_current
from tenants.models import Practice, User
from tests.factories import UserFactory

# No test here enters a practice's own tables: practices without schemas (tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]

STAFF_NOTE = "STAFFNOTE-farm-suspected"
STRIPE_ERROR = "No such customer: cus_INTERNAL42"
ELIGIBILITY_NOTE = "ELIGNOTE-same-device-fingerprint"
SIGNUP_IP = "198.51.100.23"
MARKERS = (STAFF_NOTE, STRIPE_ERROR, ELIGIBILITY_NOTE, SIGNUP_IP, "cus_INTERNAL42")


def _bare_practice(slug: str) -> Practice:
    return Practice.objects.bulk_create([Practice(schema_name=f"practice_{slug}", slug=slug, name=f"Practice {slug}")])[
        0
    ]


@pytest.fixture
def planted(practice_a: tuple[User, Practice]) -> dict[str, Any]:
    """alpha's owner referred five colleagues; their rewards sit in five statuses, each with a
    staff note, a Stripe error or a fraud signal planted where staff tools keep them."""
    owner, alpha = practice_a
    program = program_current()
    statuses = {
        "Rita Rejected": RewardStatus.REJECTED,
        "Holly Held": RewardStatus.ON_HOLD,
        "Fay Failed": RewardStatus.FAILED,
        "Carl Cancelled": RewardStatus.CANCELLED,
        "Penny Pending": RewardStatus.PENDING,
    }
    rewards = {}
    for number, (name, status) in enumerate(statuses.items()):
        referred = UserFactory(full_name=name)
        practice = _bare_practice(f"referred-{number}")
        referral = Referral.objects.create(
            referrer=owner,
            referred_user=referred,
            referred_practice=practice,
            source="link",
            eligibility=Eligibility.REVIEW if status == RewardStatus.ON_HOLD else Eligibility.ELIGIBLE,
            eligibility_reason=EligibilityReason.SHARED_IP if status == RewardStatus.ON_HOLD else "",
            eligibility_note=ELIGIBILITY_NOTE,
            signup_ip=SIGNUP_IP,
        )
        payment = Payment.objects.create(
            stripe_invoice_id=f"in_planted_{number}",
            practice=practice,
            stripe_customer_id="cus_INTERNAL42",
            amount_cents=4900,
            currency="usd",
            paid_at=timezone.now() - datetime.timedelta(days=1),
            is_reversed=status == RewardStatus.CANCELLED,
        )
        reward = Reward.objects.create(
            referral=referral,
            referrer=owner,
            beneficiary_practice=alpha,
            qualifying_payment=payment,
            program=program,
            rule=program.rules.order_by("pk").first(),
            amount_cents=5000,
            currency="usd",
            status=status,
            reason=f"{STAFF_NOTE} ({status})",
            last_error=STRIPE_ERROR if status == RewardStatus.FAILED else "",
            hold_until=timezone.now() + datetime.timedelta(days=13),
        )
        RewardAction.objects.create(reward=reward, to_status=status, note=STAFF_NOTE)
        rewards[status] = reward
        if status == RewardStatus.ON_HOLD:
            AccessRequest.objects.create(practice=alpha, requester=referred, referral=referral)
    return {"owner": owner, "practice": alpha, "rewards": rewards}


def _assert_clean(text: str, where: str) -> None:
    for marker in MARKERS:
        assert marker not in text, f"{marker!r} reached {where}"


def test_billing_page_explains_each_reward_in_plain_words_without_staff_notes(
    planted: dict[str, Any], client_for: Callable[..., Client]
) -> None:
    response = client_for(planted["owner"], planted["practice"]).get("/billing/")
    assert response.status_code == 200
    html = response.content.decode()
    _assert_clean(html, "the Billing page")
    assert "Our team reviewed this referral and it does not qualify" in html  # rejected
    assert "Our team checks this referral before crediting it" in html  # on hold
    assert "Crediting is delayed" in html  # failed
    assert "payment was refunded or disputed, so no credit is due" in html  # cancelled
    assert "Credited on " in html  # pending: the date, from the status
    assert html.count('data-testid="reward-reason"') == 5


def test_billing_api_gives_the_same_plain_reason(planted: dict[str, Any], client_for: Callable[..., Client]) -> None:
    response = client_for(planted["owner"], planted["practice"]).get("/api/billing/")
    assert response.status_code == 200
    _assert_clean(response.content.decode(), "the billing API")
    reasons = {row["status"]: row["reason"] for row in response.json()["rewards"]}
    assert reasons[RewardStatus.REJECTED].startswith("Our team reviewed this referral")
    assert set(reasons) == {str(status) for status in planted["rewards"]}


def test_referrers_dashboard_page_and_api_show_no_staff_notes(
    planted: dict[str, Any], client_for: Callable[..., Client]
) -> None:
    client = client_for(planted["owner"])
    page = client.get("/referrals/")
    assert page.status_code == 200
    _assert_clean(page.content.decode(), "the referral dashboard")
    assert "Our team reviewed this referral and it does not qualify" in page.content.decode()
    for path in ("/api/referrals/dashboard/", "/api/referrals/dashboard/referrals/"):
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_clean(response.content.decode(), path)
    one = planted["rewards"][RewardStatus.REJECTED].referral_id
    detail = client.get(f"/api/referrals/dashboard/referrals/{one}/")
    assert detail.status_code == 200
    _assert_clean(detail.content.decode(), "a referral's detail")


def test_practice_pages_about_people_show_no_fraud_signals(
    planted: dict[str, Any], client_for: Callable[..., Client]
) -> None:
    """The owner reviews an access request from a flagged signup: the person, not the flag."""
    client = client_for(planted["owner"], planted["practice"])
    access_request = AccessRequest.objects.get(practice=planted["practice"])
    for path in ("/access-requests/", f"/access-requests/{access_request.pk}/", "/api/access-requests/", "/team/"):
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_clean(response.content.decode(), path)
