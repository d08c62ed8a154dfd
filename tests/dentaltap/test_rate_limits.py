"""Invitation and signup endpoints are rate limited per user and per IP (Redis), with a clear
429; when Redis is down the limits fail open instead of failing the request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from invitations.models import Invitation
from referrals.services import referral_code_get_or_create
from tenants.models import User
from tests.growth_support import Pair

# The practices here are their public rows only: no test enters a practice's tables (conftest).
pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]
ClientFor = Callable[..., Client]
BAD_SIGNUP = {"full_name": "X", "email": "x@example.com", "password": "short", "practice_name": "X"}


@pytest.fixture
def tight_limits(settings: Any) -> None:
    settings.RATE_LIMITS = {
        "invitation_create": {"user": (2, 3600), "ip": (100, 3600)},
        "invitation_accept": {"ip": (2, 3600)},
        "signup": {"ip": (2, 3600), "email": (100, 3600)},
    }


def test_invitation_api_is_limited_per_user(tight_limits: None, practice_a: Pair, client_for: ClientFor) -> None:
    owner, alpha = practice_a
    client = client_for(owner, alpha)
    for number in range(2):
        response = client.post(
            "/api/invitations/", {"emails": [f"a{number}@example.com"]}, content_type="application/json"
        )
        assert response.status_code == 201
    limited = client.post("/api/invitations/", {"emails": ["late@example.com"]}, content_type="application/json")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited" and limited.json()["error"]["message"]
    assert not Invitation.objects.filter(email="late@example.com").exists()
    # The page shares the same per-user budget and says so beside the form.
    page = client.post("/invitations/", {"emails": "late@example.com", "role": "assistant"})
    assert page.status_code == 429 and b"Too many attempts" in page.content


def test_signup_page_and_api_are_limited_per_ip(
    tight_limits: None, public_tenant: object, client_for: ClientFor
) -> None:
    client = client_for()
    assert [client.post("/signup/", BAD_SIGNUP).status_code for _ in range(2)] == [400, 400]
    page = client.post("/signup/", BAD_SIGNUP)
    assert page.status_code == 429 and b"Too many attempts" in page.content and page["Retry-After"]
    api = client.post("/api/signup/", BAD_SIGNUP, content_type="application/json")
    assert api.status_code == 429 and api.json()["error"]["code"] == "rate_limited"
    assert client.get("/signup/").status_code == 200  # reading the page is not limited
    other_ip = client_for(REMOTE_ADDR="10.0.0.2")
    assert other_ip.post("/signup/", BAD_SIGNUP).status_code == 400  # per IP


def test_referral_and_invitation_signups_count_too(tight_limits: None, practice_a: Pair, client_for: ClientFor) -> None:
    owner, _ = practice_a
    code = referral_code_get_or_create(user=owner).code
    client = client_for()
    statuses = [client.post(f"/r/{code}/", BAD_SIGNUP).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]
    token_client = client_for(REMOTE_ADDR="10.0.0.3")
    statuses = [token_client.post("/invitations/forged-token/", BAD_SIGNUP).status_code for _ in range(3)]
    assert statuses == [404, 404, 429]  # guessing tokens is limited as well


@pytest.mark.django_db(transaction=True)
def test_limits_fail_open_when_redis_is_down(
    tight_limits: None, redis_outage: None, public_tenant: object, client_for: ClientFor
) -> None:
    client = client_for()
    assert [client.post("/signup/", BAD_SIGNUP).status_code for _ in range(3)] == [400, 400, 400]
    assert User.objects.count() == 0
