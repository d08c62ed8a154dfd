"""Invitation pages and API: inviting, the list, resend/revoke, accepting in every state."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import account_signup
from invitations import services
from invitations.models import Invitation, InvitationStatus
from tenants.models import JoinedVia, Membership, Practice, Role, User
from tests.conftest import PORT
from tests.factories import UserFactory
from tests.growth_support import HOST, Pair, invite, signup_data, token_for

# The practices here are their public rows only: no test enters a practice's tables (conftest).
pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]
ClientFor = Callable[..., Client]


# --------------------------------------------------------------------------- practice host: API


def test_api_invites_in_bulk_reporting_each_invalid_email(practice_a: Pair, client_for: ClientFor) -> None:
    owner, alpha = practice_a
    client = client_for(owner, alpha)
    response = client.post(
        "/api/invitations/",
        {"emails": ["a@example.com", "nope", "b@example.com"], "role": "receptionist", "message": "Hi"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert sorted(item["email"] for item in body["created"]) == ["a@example.com", "b@example.com"]
    assert body["issues"] == [
        {"email": "nope", "code": "invalid_email", "message": "This is not a valid email address."}
    ]

    listing = client.get("/api/invitations/").json()
    assert listing["count"] == 2 and {row["status"] for row in listing["results"]} == {"pending"}

    invitation_id = body["created"][0]["id"]
    assert client.post(f"/api/invitations/{invitation_id}/resend/").status_code == 200
    revoked = client.post(f"/api/invitations/{invitation_id}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    again = client.post(f"/api/invitations/{invitation_id}/revoke/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invitation_revoked"


def test_api_refuses_bad_input_and_unallowed_roles_in_the_error_shape(practice_a: Pair, client_for: ClientFor) -> None:
    owner, alpha = practice_a
    client = client_for(owner, alpha)
    none_valid = client.post("/api/invitations/", {"emails": ["x", "y"]}, content_type="application/json")
    assert none_valid.status_code == 400 and none_valid.json()["error"]["code"] == "invalid"
    owner_role = client.post(
        "/api/invitations/", {"emails": ["a@example.com"], "role": "owner"}, content_type="application/json"
    )
    assert owner_role.status_code == 400 and owner_role.json()["error"]["code"] == "role_not_allowed"
    assert Invitation.objects.count() == 0


def test_api_needs_the_invite_permission_and_stays_in_its_practice(
    practice_a: Pair, practice_b: Pair, client_for: ClientFor
) -> None:
    owner, alpha = practice_a
    other_owner, bravo = practice_b
    assistant = UserFactory()
    Membership.objects.create(user=assistant, practice=alpha, role=Role.ASSISTANT, joined_via=JoinedVia.INVITATION)
    refused = client_for(assistant, alpha).post(
        "/api/invitations/", {"emails": ["a@example.com"]}, content_type="application/json"
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert client_for(assistant, alpha).get("/api/invitations/").status_code == 403
    assert client_for(None, alpha).get("/api/invitations/").status_code == 401

    invitation = invite(alpha, owner, "a@example.com").created[0]
    # Another practice's owner cannot touch alpha's invitation, not even through their own host.
    assert client_for(other_owner, bravo).post(f"/api/invitations/{invitation.pk}/revoke/").status_code == 404
    assert client_for(other_owner, alpha).post(f"/api/invitations/{invitation.pk}/revoke/").status_code == 403
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING


# --------------------------------------------------------------------------- practice host: pages


def test_invite_page_shows_sent_and_refused_addresses_and_lists_invitations(
    practice_a: Pair, client_for: ClientFor
) -> None:
    owner, alpha = practice_a
    client = client_for(owner, alpha)
    page = client.get("/invitations/")
    assert page.status_code == 200 and b"Send invitations" in page.content
    assert b'href="/invitations/"' in page.content  # the nav link for members who may invite

    response = client.post(
        "/invitations/", {"emails": "a@example.com\nnot-valid\nb@example.com", "role": "assistant", "message": ""}
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "2 invitations are on their way." in content
    assert 'data-email="not-valid"' in content and "This is not a valid email address." in content
    assert content.count("data-invitation-id=") == 2

    invitation = Invitation.objects.get(email="a@example.com")
    revoked = client.post(f"/invitations/{invitation.pk}/revoke/", follow=True)
    assert b"revoked" in revoked.content
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.REVOKED

    empty = client.post("/invitations/", {"emails": "", "role": "assistant"})
    assert empty.status_code == 400


def test_invite_page_is_refused_to_members_without_the_permission(practice_a: Pair, client_for: ClientFor) -> None:
    _, alpha = practice_a
    guest = UserFactory()
    Membership.objects.create(user=guest, practice=alpha, role=Role.GUEST, joined_via=JoinedVia.REFERRAL_LINK)
    client = client_for(guest, alpha)
    assert client.get("/invitations/").status_code == 403
    assert b'href="/invitations/"' not in client.get("/").content


# --------------------------------------------------------------------------- base domain: accepting


def test_accept_page_for_a_new_user_signs_up_with_the_email_fixed(practice_a: Pair, client_for: ClientFor) -> None:
    owner, alpha = practice_a
    invitation = invite(alpha, owner, "nina@example.com", role=Role.DENTIST, message="Welcome aboard").created[0]
    token = token_for(invitation)
    client = client_for()

    page = client.get(f"/invitations/{token}/?ref=abc")
    assert page.status_code == 200
    content = page.content.decode()
    assert owner.full_name in content and alpha.name in content and "Welcome aboard" in content
    assert 'value="nina@example.com"' in content and "disabled" in content
    Invitation.objects.get(pk=invitation.pk, status="pending")  # a GET never consumes the token

    # A posted email is ignored: the invitation's address is used.
    response = client.post(f"/invitations/{token}/", {**signup_data(), "email": "evil@example.com"})
    assert response.status_code == 302
    assert response["Location"] == f"http://kraus.{HOST}:{PORT}/"
    user = User.objects.get(email="nina@example.com")
    assert not User.objects.filter(email="evil@example.com").exists()
    assert Membership.objects.get(user=user, practice=alpha).role == Role.DENTIST
    assert Practice.objects.filter(slug="kraus").exists()
    # Logged in: the inviter's practice is one click away in the switcher.
    assert b'data-practice="alpha"' in client.get("/practices/").content


def test_accept_page_for_an_existing_user_adds_the_membership_and_lands_on_the_switcher(
    practice_a: Pair, practice_b: Pair, client_for: ClientFor
) -> None:
    owner, alpha = practice_a
    colleague, _ = practice_b
    token = token_for(invite(alpha, owner, colleague.email).created[0])

    anonymous = client_for().get(f"/invitations/{token}/")
    assert b"Log in to accept" in anonymous.content  # the address has an account: log in first

    client = client_for(colleague)
    assert b"Accept the invitation" in client.get(f"/invitations/{token}/").content
    response = client.post(f"/invitations/{token}/")
    assert response.status_code == 302 and response["Location"].endswith("/practices/")
    assert Membership.objects.get(user=colleague, practice=alpha).role == Role.ASSISTANT


def test_accept_page_refuses_a_different_logged_in_email_with_an_explanation(
    practice_a: Pair, practice_b: Pair, client_for: ClientFor
) -> None:
    owner, alpha = practice_a
    other, _ = practice_b
    token = token_for(invite(alpha, owner, "nina@example.com").created[0])
    client = client_for(other)
    for response in (client.get(f"/invitations/{token}/"), client.post(f"/invitations/{token}/")):
        assert response.status_code == 403
        assert b"nina@example.com" in response.content and other.email.encode() in response.content
        assert b"Log out" in response.content
    assert not Membership.objects.filter(user=other, practice=alpha).exists()


@pytest.mark.parametrize(
    ("state", "status", "heading"),
    [
        ("forged", 404, b"This invitation link is not valid"),
        ("expired", 410, b"This invitation has expired"),
        ("revoked", 410, b"This invitation was withdrawn"),
        ("used", 410, b"This invitation was already used"),
    ],
)
def test_unusable_links_give_a_clear_page_and_a_4xx_in_the_api(
    practice_a: Pair, client_for: ClientFor, state: str, status: int, heading: bytes
) -> None:
    owner, alpha = practice_a
    invitation = invite(alpha, owner, "nina@example.com").created[0]
    token = token_for(invitation)
    if state == "forged":
        token = "f" * 43
    elif state == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    elif state == "revoked":
        services.invitation_revoke(invitation_id=invitation.pk, practice=alpha, by=owner)
    else:
        account_signup(email=None, invitation_token=token, **signup_data())
    users_before = User.objects.count()
    client = client_for()

    page = client.get(f"/invitations/{token}/")
    assert page.status_code == status and heading in page.content
    posted = client.post(f"/invitations/{token}/", signup_data(practice_slug="second"))
    assert posted.status_code == status and heading in posted.content

    preview = client.get(f"/api/invitations/{token}/")
    signup = client.post(
        f"/api/invitations/{token}/signup/", signup_data(practice_slug="third"), content_type="application/json"
    )
    for response in (preview, signup):
        assert response.status_code == status
        assert response.json()["error"]["code"] == f"invitation_{'not_found' if state == 'forged' else state}"
    assert User.objects.count() == users_before
    assert not Practice.objects.filter(slug__in=["second", "third"]).exists()


def test_api_preview_signup_and_accept(practice_a: Pair, practice_b: Pair, client_for: ClientFor) -> None:
    owner, alpha = practice_a
    colleague, _ = practice_b
    token = token_for(invite(alpha, owner, "nina@example.com", role=Role.RECEPTIONIST).created[0])
    client = client_for()
    preview = client.get(f"/api/invitations/{token}/").json()
    assert (preview["email"], preview["role"], preview["practice_name"]) == (
        "nina@example.com",
        "receptionist",
        alpha.name,
    )

    bad = client.post(
        f"/api/invitations/{token}/signup/", signup_data(password="short"), content_type="application/json"
    )
    assert bad.status_code == 400 and "password" in bad.json()["error"]["fields"]
    created = client.post(f"/api/invitations/{token}/signup/", signup_data(), content_type="application/json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["invited_practice_id"], body["invited_role"]) == (alpha.pk, "receptionist")
    assert body["referral_id"] is not None

    token_2 = token_for(invite(alpha, owner, colleague.email).created[0])
    assert client_for().post(f"/api/invitations/{token_2}/accept/").status_code == 401
    token_3 = token_for(invite(alpha, owner, "someone-else@example.com").created[0])
    mismatch = client_for(colleague).post(f"/api/invitations/{token_3}/accept/")
    assert mismatch.status_code == 403 and mismatch.json()["error"]["code"] == "email_mismatch"
    accepted = client_for(colleague).post(f"/api/invitations/{token_2}/accept/")
    assert accepted.status_code == 200 and accepted.json()["role"] == "assistant"


def test_the_endpoints_are_in_the_openapi_schemas(practice_a: Pair, client_for: ClientFor) -> None:
    owner, alpha = practice_a
    practice_schema = client_for(owner, alpha).get("/api/schema/?format=json").json()
    for path in (
        "/api/invitations/",
        "/api/invitations/{invitation_id}/resend/",
        "/api/invitations/{invitation_id}/revoke/",
        "/api/access-requests/",
        "/api/access-requests/{access_request_id}/approve/",
        "/api/access-requests/{access_request_id}/decline/",
        "/api/referral-settings/",
    ):
        assert path in practice_schema["paths"], path
    public_schema = client_for(owner).get("/api/schema/?format=json").json()
    for path in (
        "/api/invitations/{token}/",
        "/api/invitations/{token}/accept/",
        "/api/invitations/{token}/signup/",
        "/api/referrals/me/",
        "/api/referrals/signup/",
    ):
        assert path in public_schema["paths"], path
