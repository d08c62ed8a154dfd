"""Every signup door is one path: the browser and the API, plain, from a referral link and from an
invitation all go through accounts.services.account_signup. So each records where the newcomer
signed up from (IP and user agent), and each gives the same refusal for the same bad input,
writing nothing."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from invitations.models import Invitation, InvitationStatus
from referrals import services as referral_services
from referrals.models import Referral, ReferralSource, ReferrerAddress
from tenants.models import AccessAction, AccessChange, JoinedVia, Membership, Practice, User
from tests.factories import UserFactory
from tests.growth_support import HOST, Pair, invite, signup_data, token_for

# Signups the doors perform create real schemas; the referrer's practice needs only its rows.
pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only("alpha")]

IP = "203.0.113.7"
AGENT = "DoorTest/1.0 (signup)"
NEWCOMER = "nina@example.com"


@dataclass(frozen=True)
class Door:
    name: str
    is_api: bool
    kind: str  # "plain", "referral" or "invitation"
    post: Callable[[Client, dict[str, Any], dict[str, str]], Any]


def _browser_plain(client: Client, data: dict[str, Any], world: dict[str, str]) -> Any:
    return client.post("/signup/", data)


def _browser_referral(client: Client, data: dict[str, Any], world: dict[str, str]) -> Any:
    return client.post(f"/r/{world['code']}/", {**data, "request_access": "on"})


def _browser_invitation(client: Client, data: dict[str, Any], world: dict[str, str]) -> Any:
    body = {key: value for key, value in data.items() if key != "email"}  # the form's email is fixed
    return client.post(f"/invitations/{world['token']}/", body)


def _api_plain(client: Client, data: dict[str, Any], world: dict[str, str]) -> Any:
    return client.post("/api/signup/", data, content_type="application/json")


def _api_referral(client: Client, data: dict[str, Any], world: dict[str, str]) -> Any:
    return client.post(
        "/api/referrals/signup/", {**data, "referral_code": world["code"]}, content_type="application/json"
    )


def _api_invitation(client: Client, data: dict[str, Any], world: dict[str, str]) -> Any:
    body = {key: value for key, value in data.items() if key != "email"}
    return client.post(f"/api/invitations/{world['token']}/signup/", body, content_type="application/json")


DOORS = [
    Door("browser plain", False, "plain", _browser_plain),
    Door("browser referral", False, "referral", _browser_referral),
    Door("browser invitation", False, "invitation", _browser_invitation),
    Door("api plain", True, "plain", _api_plain),
    Door("api referral", True, "referral", _api_referral),
    Door("api invitation", True, "invitation", _api_invitation),
]
INVITATION_DOORS = [door for door in DOORS if door.kind == "invitation"]


@pytest.fixture
def world(practice_a: Pair) -> dict[str, str]:
    """Alpha's owner has a referral code and has invited the newcomer's address."""
    owner, alpha = practice_a
    batch = invite(alpha, owner, NEWCOMER)
    return {
        "code": referral_services.referral_code_get_or_create(user=owner).code,
        "token": token_for(batch.created[0]),
    }


def _client() -> Client:
    return Client(HTTP_HOST=HOST, REMOTE_ADDR=IP, HTTP_USER_AGENT=AGENT)


def _refusal(door: Door, response: Any) -> tuple[int, dict[str, list[str]]]:
    """(status, {field: messages}) whichever way the door answers."""
    if door.is_api:
        return response.status_code, response.json()["error"]["fields"]
    form = response.context["form"]
    return response.status_code, {
        field: [str(message) for message in messages] for field, messages in form.errors.items()
    }


def _nothing_written(before_users: int) -> None:
    assert User.objects.count() == before_users
    assert not Practice.objects.filter(slug="kraus").exists()
    assert not Referral.objects.exists()


@pytest.mark.parametrize("door", DOORS, ids=lambda door: door.name)
def test_every_door_records_the_signup_ip_and_user_agent(door: Door, world: dict[str, str], practice_a: Pair) -> None:
    owner, alpha = practice_a
    response = door.post(_client(), {**signup_data(), "email": NEWCOMER}, world)

    assert response.status_code == (201 if door.is_api else 302), getattr(response, "content", b"")[:500]
    newcomer = User.objects.get(email=NEWCOMER)
    own = Membership.objects.get(user=newcomer, practice__slug="kraus")
    assert own.joined_via == JoinedVia.CREATED_PRACTICE
    joined = AccessChange.objects.get(membership=own, action=AccessAction.JOINED)
    assert (joined.ip_address, joined.user_agent) == (IP, AGENT)
    assert ReferrerAddress.objects.filter(user=newcomer, ip_address=IP).count() == 1

    referral = Referral.objects.filter(referred_user=newcomer).first()
    if door.kind == "plain":
        assert referral is None  # no cookie, no code: nobody is credited
        assert Membership.objects.filter(user=newcomer).count() == 1
    else:
        assert referral is not None and (referral.referrer, referral.signup_ip) == (owner, IP)
        expected = ReferralSource.INVITATION if door.kind == "invitation" else ReferralSource.LINK
        assert referral.source == expected
    if door.kind == "invitation":
        invited = Membership.objects.get(user=newcomer, practice=alpha)
        joined_alpha = AccessChange.objects.get(membership=invited, action=AccessAction.JOINED)
        assert (joined_alpha.ip_address, joined_alpha.user_agent) == (IP, AGENT)
        assert Invitation.objects.get(email=NEWCOMER).status == InvitationStatus.ACCEPTED


@pytest.mark.parametrize("door", [d for d in DOORS if d.kind != "invitation"], ids=lambda door: door.name)
def test_a_referral_cookie_credits_its_referrer_at_every_door(
    door: Door, world: dict[str, str], practice_a: Pair
) -> None:
    """The attribution cookie (first touch) is read by the API doors too, not only the pages."""
    owner, _alpha = practice_a
    client = _client()
    assert client.get(f"/r/{world['code']}/").status_code == 200  # sets the cookie
    response = door.post(client, {**signup_data(), "email": NEWCOMER}, world)

    assert response.status_code == (201 if door.is_api else 302)
    referral = Referral.objects.get(referred_user__email=NEWCOMER)
    assert (referral.referrer, referral.source, referral.signup_ip) == (owner, ReferralSource.LINK, IP)


BAD_INPUT = {
    "weak password": ({"password": "short"}, "password"),
    "common password": ({"password": "password123"}, "password"),
    "bad practice address": ({"practice_slug": "Bad_Slug!"}, "practice_slug"),
    "reserved practice address": ({"practice_slug": "admin"}, "practice_slug"),
    "practice name too long": ({"practice_name": "x" * 121}, "practice_name"),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=str)
def test_every_door_gives_the_same_refusal_for_the_same_bad_input(case: str, world: dict[str, str]) -> None:
    changes, field = BAD_INPUT[case]
    answers: dict[str, list[str]] = {}
    before = User.objects.count()
    for door in DOORS:
        status, fields = _refusal(door, door.post(_client(), {**signup_data(**changes), "email": NEWCOMER}, world))
        assert status == 400 and field in fields, (door.name, status, fields)
        answers[door.name] = fields[field]
        _nothing_written(before)
    if case != "practice name too long":  # the service's words (a length is checked by each reader first)
        assert len({tuple(messages) for messages in answers.values()}) == 1, answers


@pytest.mark.parametrize("door", [d for d in DOORS if d.name != "browser invitation"], ids=lambda door: door.name)
def test_a_taken_email_is_refused_the_same_at_every_door(door: Door, world: dict[str, str]) -> None:
    """The browser invitation page answers a taken address with "log in and come back" before any
    form (tests/invitations/test_invitation_http.py); every other door refuses the signup alike."""
    UserFactory(email=NEWCOMER)
    before = User.objects.count()
    response = door.post(_client(), {**signup_data(), "email": "Nina@Example.com"}, world)

    status, fields = _refusal(door, response)
    assert status == 400 and fields["email"] == ["An account with this email already exists. Log in instead."]
    _nothing_written(before)


@pytest.mark.parametrize("door", INVITATION_DOORS, ids=lambda door: door.name)
@pytest.mark.parametrize(
    ("token_case", "status", "code"), [("forged", 404, "invitation_not_found"), ("expired", 410, "invitation_expired")]
)
def test_a_forged_or_expired_invitation_is_refused_the_same_at_both_invitation_doors(
    door: Door, token_case: str, status: int, code: str, world: dict[str, str]
) -> None:
    if token_case == "forged":
        world = {**world, "token": world["token"][:-4] + "AAAA"}
    else:
        Invitation.objects.filter(email=NEWCOMER).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    before = User.objects.count()
    response = door.post(_client(), signup_data(), world)

    assert response.status_code == status
    answered = response.json()["error"]["code"] if door.is_api else response.context["code"]
    assert answered == code
    _nothing_written(before)


def test_an_invitation_signup_with_another_address_is_refused_naming_the_field(world: dict[str, str]) -> None:
    """The API invitation door takes an email only to check it: the account is the invited one's."""
    before = User.objects.count()
    response = _client().post(
        f"/api/invitations/{world['token']}/signup/",
        {**signup_data(), "email": "someone-else@example.com"},
        content_type="application/json",
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "email_mismatch" and NEWCOMER in error["fields"]["email"][0]
    _nothing_written(before)
    assert Invitation.objects.get(email=NEWCOMER).status == InvitationStatus.PENDING
