"""Freemium's practitioner seats (owners and dentists) and invitations: the owner is warned when
inviting, an invitee who meets the limit is told plainly what happened (not the owner's upgrade
message), the inviter is told after commit, and the same link works once a seat is free."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from invitations import services
from invitations.models import Invitation, InvitationStatus
from tenants.models import JoinedVia, Membership, Practice, Role, User
from tenants.services import membership_create
from tests.conftest import upgrade_to_paid_plan
from tests.factories import UserFactory
from tests.growth_support import Pair, invite, signup_data, token_for

# No test here enters a practice's own tables: practices without schemas (tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]
ClientFor = Callable[..., Client]

OWNER_WORDING = ("Upgrade on the Billing page", "give this person another role")


@pytest.fixture
def full_practice(practice_a: Pair) -> Pair:
    """alpha on Freemium (2 practitioner seats) with its owner and one dentist: full."""
    owner, alpha = practice_a
    membership_create(
        user=UserFactory(full_name="Dr. First"), practice=alpha, role=Role.DENTIST, joined_via=JoinedVia.INVITATION
    )
    return owner, alpha


def test_the_invite_form_says_how_many_seats_are_left(practice_a: Pair, client_for: ClientFor) -> None:
    owner, alpha = practice_a
    client = client_for(owner, alpha)
    html = client.get("/invitations/").content.decode()
    assert "Owners and dentists take a practitioner seat: 1 of 2 left on the Freemium plan." in html
    assert '<option value="dentist">Dentist (1 seat left)</option>' in html
    assert re.search(r'<option value="assistant"( selected)?>Assistant</option>', html)  # no seat needed

    membership_create(user=UserFactory(), practice=alpha, role=Role.DENTIST, joined_via=JoinedVia.INVITATION)
    html = client.get("/invitations/").content.decode()
    assert "all 2 of the Freemium plan are taken" in html
    assert '<option value="dentist">Dentist (no seat left on your plan)</option>' in html

    response = client.post("/invitations/", {"emails": "nina@example.com", "role": Role.DENTIST})
    assert response.status_code == 200
    warning = re.search(r'data-testid="seat-warning">(.*?)</p>', response.content.decode(), re.S)
    assert warning and "no practitioner seat left" in warning.group(1)
    assert Invitation.objects.filter(email="nina@example.com", status=InvitationStatus.PENDING).count() == 1

    upgrade_to_paid_plan(alpha)
    html = client.get("/invitations/").content.decode()
    assert "practitioner seat" not in html and '<option value="dentist">Dentist</option>' in html


def _assert_invitee_wording(text: str, owner: User) -> None:
    assert "cannot take you in as Dentist yet" in text
    assert "This is for the practice to fix, not you" in text
    assert f"we have told {owner.full_name}" in text
    assert "this same link will work" in text
    for words in OWNER_WORDING:
        assert words not in text


def test_a_newcomer_blocked_by_the_seat_limit_is_told_plainly_and_the_inviter_is_emailed(
    full_practice: Pair, client_for: ClientFor, outbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    owner, alpha = full_practice
    invitation = invite(alpha, owner, "nina@example.com", role=Role.DENTIST).created[0]
    token = token_for(invitation)
    client = client_for()
    users_before, practices_before = User.objects.count(), Practice.objects.count()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(f"/invitations/{token}/", signup_data())
    assert response.status_code == 409
    html = response.content.decode()
    assert "The practice has no free seat for you yet" in html
    message = re.search(r'data-testid="link-problem-message">(.*?)</p>', html, re.S)
    assert message
    _assert_invitee_wording(message.group(1).replace("&#x27;", "'"), owner)
    # Nothing half-made: no account, no practice, the invitation still open for later.
    assert (User.objects.count(), Practice.objects.count()) == (users_before, practices_before)
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING and invitation.seat_blocked_at is not None
    assert len(callbacks) == 1 and outbox == []  # the notice goes out after commit, from a task

    # A second try soon after does not email the owner again.
    with django_capture_on_commit_callbacks(execute=False) as again:
        assert client.post(f"/invitations/{token}/", signup_data()).status_code == 409
    assert again == []

    # The task's work: one email to the inviter (the owner: they also manage billing).
    assert services.invitation_seat_limit_notify(invitation_id=invitation.pk) == 1
    assert services.invitation_seat_limit_notify(invitation_id=invitation.pk) == 0  # safe to run twice
    assert [mail.to for mail in outbox] == [[owner.email]]
    assert "nina@example.com" in outbox[0].subject and "no practitioner seat left" in outbox[0].subject
    assert "/billing/" in outbox[0].body

    # The owner sees it in the app too.
    page = client_for(owner, alpha).get("/invitations/").content.decode()
    assert "1 invitee could not join: no practitioner seat left on your plan." in page
    assert 'data-testid="waiting-for-seat"' in page

    # Once a seat is free, the same link works.
    upgrade_to_paid_plan(alpha)
    assert client.post(f"/invitations/{token}/", signup_data()).status_code == 302
    assert Membership.objects.get(user__email="nina@example.com", practice=alpha).role == Role.DENTIST


def test_an_existing_user_blocked_by_the_seat_limit_and_the_api_say_the_same(
    full_practice: Pair, practice_b: Pair, client_for: ClientFor
) -> None:
    owner, alpha = full_practice
    colleague, _bravo = practice_b
    token = token_for(invite(alpha, owner, colleague.email, role=Role.DENTIST).created[0])
    client = client_for(colleague)

    page = client.post(f"/invitations/{token}/")
    assert page.status_code == 409
    _assert_invitee_wording(page.content.decode().replace("&#x27;", "'"), owner)
    assert not Membership.objects.filter(user=colleague, practice=alpha).exists()

    api = client.post(f"/api/invitations/{token}/accept/")
    assert api.status_code == 409
    error = api.json()["error"]
    assert error["code"] == "invitation_seat_limit"
    _assert_invitee_wording(error["message"], owner)


def test_the_already_used_page_tells_a_logged_in_user_where_to_go(
    practice_a: Pair, practice_b: Pair, client_for: ClientFor
) -> None:
    owner, alpha = practice_a
    colleague, _bravo = practice_b
    token = token_for(invite(alpha, owner, colleague.email).created[0])
    client = client_for(colleague)
    assert client.post(f"/invitations/{token}/").status_code == 302

    used = client.get(f"/invitations/{token}/")
    assert used.status_code == 410
    html = used.content.decode()
    message = re.search(r'data-testid="link-problem-message">(.*?)</p>', html, re.S)
    assert message and "Log in" not in message.group(1) and "My practices" in message.group(1)
    assert 'role="button">My practices</a>' in html and ">Log in</a>" not in html

    anonymous = client_for().get(f"/invitations/{token}/").content.decode()
    assert "Log in to reach the practice" in anonymous  # logged out, logging in is the answer
