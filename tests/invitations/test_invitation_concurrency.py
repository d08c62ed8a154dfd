"""Two accepts of one invitation token at the same moment, with real transactions in real threads
(and real requests): the token is consumed once, nothing is written twice, and the one who came
second is told plainly why."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token

from accounts.services import SignupResult, account_signup
from dentaltap.errors import ApplicationError
from invitations import services
from invitations.models import Invitation, InvitationStatus
from referrals.models import Referral
from tenants.models import AccessAction, AccessChange, Membership, Practice, Role, User
from tests.concurrency import run_together
from tests.conftest import BASE
from tests.growth_support import Pair, invite, signup_data, token_for

# The inviting practices are their public rows only; the newcomers' practices are real schemas.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.practice_rows_only]


def practice_schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'practice\\_%%'")
        return {row[0] for row in cursor.fetchall()}


def assert_consumed_once_by(invitation: Invitation, user: User) -> None:
    invitation.refresh_from_db()
    assert (invitation.status, invitation.accepted_by) == (InvitationStatus.ACCEPTED, user)
    assert Membership.objects.filter(user=user, practice=invitation.practice).count() == 1
    joined = AccessChange.objects.filter(practice=invitation.practice, member=user, action=AccessAction.JOINED)
    assert joined.count() == 1  # one join in the access log, not one per request


def test_the_invited_user_accepting_twice_at_once_joins_once_and_hears_the_link_was_used(
    practice_a: Pair, practice_b: Pair
) -> None:
    owner, alpha = practice_a
    colleague, _ = practice_b
    invitation = invite(alpha, owner, colleague.email, role=Role.DENTIST).created[0]
    token = token_for(invitation)

    results = run_together(
        lambda: services.invitation_accept(token=token, user=colleague),
        lambda: services.invitation_accept(token=token, user=colleague),
    )

    joined = [result for result in results if isinstance(result, Membership)]
    refused = [result for result in results if isinstance(result, ApplicationError)]
    assert len(joined) == 1 and len(refused) == 1, results
    assert (refused[0].code, refused[0].status_code) == ("invitation_used", 410)
    assert "already used" in refused[0].message
    assert joined[0].role == Role.DENTIST
    assert_consumed_once_by(invitation, colleague)


def test_two_signups_from_one_invitation_at_once_make_one_account_and_one_practice(practice_a: Pair) -> None:
    owner, alpha = practice_a
    invitation = invite(alpha, owner, "nina@example.com", role=Role.ASSISTANT).created[0]
    token = token_for(invitation)

    results = run_together(
        lambda: account_signup(email=None, invitation_token=token, **signup_data(practice_slug="kraus-one")),
        lambda: account_signup(email=None, invitation_token=token, **signup_data(practice_slug="kraus-two")),
    )

    signed_up = [result for result in results if isinstance(result, SignupResult)]
    refused = [result for result in results if isinstance(result, ApplicationError)]
    assert len(signed_up) == 1 and len(refused) == 1, results
    assert (refused[0].code, refused[0].status_code) == ("invitation_used", 410)
    newcomer, own_practice = signed_up[0].user, signed_up[0].practice
    assert User.objects.filter(email="nina@example.com").count() == 1
    # The refused signup left nothing: no second practice, schema, domain or referral.
    assert list(Practice.objects.filter(slug__startswith="kraus").values_list("slug", flat=True)) == [own_practice.slug]
    assert practice_schemas() == {own_practice.schema_name}  # alpha is rows only: the newcomer's is the one
    assert Referral.objects.count() == 1 and Referral.objects.get().referred_user == newcomer
    assert_consumed_once_by(invitation, newcomer)
    assert Membership.objects.get(user=newcomer, practice=alpha).role == Role.ASSISTANT


def test_two_browsers_posting_the_invitation_page_at_once_one_signs_up_the_other_gets_a_clear_page(
    practice_a: Pair,
) -> None:
    owner, alpha = practice_a
    invitation = invite(alpha, owner, "nina@example.com").created[0]
    token = token_for(invitation)

    def post(slug: str, ip_address: str) -> Any:
        browser = Client(HTTP_HOST=BASE, REMOTE_ADDR=ip_address)
        return browser.post(f"/invitations/{token}/", signup_data(practice_slug=slug))

    responses = run_together(lambda: post("kraus-one", "198.51.100.1"), lambda: post("kraus-two", "198.51.100.2"))

    signed_up = [response for response in responses if response.status_code == 302]
    others = [response for response in responses if response.status_code != 302]
    assert len(signed_up) == 1 and len(others) == 1, [response.status_code for response in responses]
    loser = others[0]
    # Raced: the token was consumed under the loser's feet. (Had the winner committed before
    # the loser even looked, the page would ask them to log in with the new account instead.)
    raced = loser.status_code == 410 and b"This invitation was already used" in loser.content
    came_later = loser.status_code == 200 and b"Log in to accept" in loser.content
    assert raced or came_later, (loser.status_code, loser.content[:300])
    newcomer = User.objects.get(email="nina@example.com")
    own_practice = Practice.objects.get(slug__in=["kraus-one", "kraus-two"])
    assert signed_up[0]["Location"].startswith(f"http://{own_practice.slug}.{BASE}:")
    assert practice_schemas() == {own_practice.schema_name}
    assert_consumed_once_by(invitation, newcomer)


def test_two_api_accepts_at_once_answer_200_and_a_410_in_the_error_shape(practice_a: Pair, practice_b: Pair) -> None:
    owner, alpha = practice_a
    colleague, _ = practice_b
    invitation = invite(alpha, owner, colleague.email, role=Role.RECEPTIONIST).created[0]
    token = token_for(invitation)
    key = Token.objects.create(user=colleague).key

    def accept(ip_address: str) -> Any:
        api = Client(HTTP_HOST=BASE, REMOTE_ADDR=ip_address, HTTP_AUTHORIZATION=f"Token {key}")
        return api.post(f"/api/invitations/{token}/accept/")

    responses = run_together(lambda: accept("198.51.100.3"), lambda: accept("198.51.100.4"))

    assert sorted(response.status_code for response in responses) == [200, 410], [r.content for r in responses]
    accepted = next(response for response in responses if response.status_code == 200)
    refused = next(response for response in responses if response.status_code == 410)
    assert accepted.json()["role"] == "receptionist"
    error = refused.json()["error"]
    assert error["code"] == "invitation_used" and "already used" in error["message"]
    assert_consumed_once_by(invitation, colleague)
