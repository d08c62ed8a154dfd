"""Invitation services: invite (single, bulk, again), resend, revoke, accept in every state."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.services import account_signup
from dentaltap.errors import ApplicationError
from invitations import services
from invitations.models import Invitation, InvitationStatus
from referrals.models import Eligibility, Referral, ReferralSource
from tenants.models import JoinedVia, Membership, MembershipStatus, Practice, Role, User
from tests.factories import UserFactory
from tests.growth_support import Pair, invite, signup_data, token_for

# The practices here are their public rows only: no test enters a practice's tables (conftest).
pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]


def schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def test_bulk_invite_reports_invalid_emails_one_by_one_and_invites_the_valid_ones(
    practice_a: Pair, django_capture_on_commit_callbacks: Callable[..., object]
) -> None:
    owner, alpha = practice_a
    pasted = "anna@example.com, not-an-email; Ivan <IVAN@Example.com>\nbad@@x.com anna@example.com\n"
    with django_capture_on_commit_callbacks() as callbacks:  # type: ignore[attr-defined]
        batch = invite(alpha, owner, pasted, role=Role.DENTIST, message="Welcome!")

    assert sorted(i.email for i in batch.created) == ["anna@example.com", "ivan@example.com"]
    assert [(issue.email, issue.code) for issue in batch.issues] == [
        ("not-an-email", "invalid_email"),
        ("bad@@x.com", "invalid_email"),
    ]
    rows = Invitation.objects.filter(practice=alpha)
    assert rows.count() == 2
    assert {row.role for row in rows} == {Role.DENTIST}
    assert all(row.status == InvitationStatus.PENDING and row.sent_at is None for row in rows)
    # One publish step after commit (not one per row), and the practice's "first colleague
    # invited" milestone (recorded after commit too).
    assert len(callbacks) == 2  # type: ignore[arg-type]
    expiry = rows[0].expires_at - timezone.now()
    assert datetime.timedelta(days=13, hours=23) < expiry <= datetime.timedelta(days=14)


def test_a_list_with_no_valid_email_is_refused_and_creates_nothing(practice_a: Pair) -> None:
    owner, alpha = practice_a
    with pytest.raises(ApplicationError) as error:
        invite(alpha, owner, "nope, also nope")
    assert error.value.code == "invalid"
    assert error.value.fields["emails"][0] == "nope: This is not a valid email address."
    assert Invitation.objects.count() == 0


def test_inviting_again_resends_with_a_new_token_and_reset_expiry(practice_a: Pair) -> None:
    owner, alpha = practice_a
    first = invite(alpha, owner, "anna@example.com").created[0]
    old_token = token_for(first)
    Invitation.objects.filter(pk=first.pk).update(
        expires_at=timezone.now() + datetime.timedelta(days=1), sent_at=timezone.now()
    )

    again = invite(alpha, owner, "ANNA@example.com", role=Role.RECEPTIONIST)

    assert again.created == [] and [i.pk for i in again.resent] == [first.pk]
    first.refresh_from_db()
    assert Invitation.objects.filter(practice=alpha).count() == 1  # still one pending row
    assert first.role == Role.RECEPTIONIST
    assert first.expires_at > timezone.now() + datetime.timedelta(days=13)
    assert first.sent_at is not None and first.send_requested_at > first.sent_at  # an email is owed
    with pytest.raises(ApplicationError) as error:  # the old link stopped working
        services.invitation_get_usable(token=old_token)
    assert error.value.code == "invitation_not_found"


def test_the_database_refuses_two_pending_invitations_for_one_mailbox(practice_a: Pair) -> None:
    owner, alpha = practice_a
    invite(alpha, owner, "anna@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Invitation.objects.create(
            practice=alpha, invited_by=owner, email="anna@example.com", token_hash="x" * 64,
            expires_at=timezone.now() + datetime.timedelta(days=1),
        )  # fmt: skip


def test_members_are_reported_not_invited(practice_a: Pair) -> None:
    owner, alpha = practice_a
    batch = invite(alpha, owner, [owner.email, "new@example.com"])
    assert [i.email for i in batch.created] == ["new@example.com"]
    assert [(issue.email, issue.code) for issue in batch.issues] == [(owner.email, "already_member")]


def test_inviter_needs_the_permission_and_cannot_grant_more_than_they_hold(practice_a: Pair, practice_b: Pair) -> None:
    owner, alpha = practice_a
    outsider, _ = practice_b
    with pytest.raises(ApplicationError) as error:
        invite(alpha, outsider, "x@example.com")
    assert error.value.status_code == 403

    assistant = UserFactory()
    Membership.objects.create(user=assistant, practice=alpha, role=Role.ASSISTANT, joined_via=JoinedVia.INVITATION)
    with pytest.raises(ApplicationError) as error:
        invite(alpha, assistant, "x@example.com")  # assistants may not invite at all
    assert error.value.status_code == 403

    dentist = UserFactory()
    Membership.objects.create(user=dentist, practice=alpha, role=Role.DENTIST, joined_via=JoinedVia.INVITATION)
    assert invite(alpha, dentist, "y@example.com", role=Role.ASSISTANT).created
    with pytest.raises(ApplicationError) as error:
        invite(alpha, dentist, "z@example.com", role=Role.PRACTICE_ADMIN)
    assert error.value.code == "role_not_allowed"
    with pytest.raises(ApplicationError):
        invite(alpha, owner, "z@example.com", role=Role.OWNER)  # ownership is never handed out by invitation
    assert not Invitation.objects.filter(email="z@example.com").exists()


def test_revoke_and_resend_follow_the_states(practice_a: Pair) -> None:
    owner, alpha = practice_a
    invitation = invite(alpha, owner, "anna@example.com").created[0]
    token = token_for(invitation)
    services.invitation_revoke(invitation_id=invitation.pk, practice=alpha, by=owner)
    with pytest.raises(ApplicationError) as error:
        services.invitation_get_usable(token=token)
    assert (error.value.code, error.value.status_code) == ("invitation_revoked", 410)
    with pytest.raises(ApplicationError) as error:
        services.invitation_resend(invitation_id=invitation.pk, practice=alpha, by=owner)
    assert error.value.status_code == 409
    with pytest.raises(ApplicationError) as error:
        services.invitation_revoke(invitation_id=invitation.pk, practice=alpha, by=owner)
    assert error.value.status_code == 409


def test_new_user_signup_gets_own_practice_membership_and_referral_in_one_step(practice_a: Pair) -> None:
    owner, alpha = practice_a
    invitation = invite(alpha, owner, "nina@example.com", role=Role.DENTIST).created[0]
    token = token_for(invitation)

    result = account_signup(email=None, invitation_token=token, **signup_data())

    assert result.user.email == "nina@example.com"
    own = Membership.objects.get(user=result.user, practice=result.practice)
    assert (own.role, own.joined_via, result.practice.plan) == (Role.OWNER, JoinedVia.CREATED_PRACTICE, "freemium")
    assert schema_exists("practice_kraus")
    invited = Membership.objects.get(user=result.user, practice=alpha)
    assert (invited.role, invited.joined_via, invited.status) == (
        Role.DENTIST,
        JoinedVia.INVITATION,
        MembershipStatus.ACTIVE,
    )
    referral = Referral.objects.get(referred_user=result.user)
    assert (referral.referrer, referral.source, referral.invitation_id, referral.eligibility) == (
        owner,
        ReferralSource.INVITATION,
        invitation.pk,
        Eligibility.ELIGIBLE,
    )
    assert referral.referred_practice == result.practice
    invitation.refresh_from_db()
    assert (invitation.status, invitation.accepted_by) == (InvitationStatus.ACCEPTED, result.user)

    with pytest.raises(ApplicationError) as error:  # consumed once
        account_signup(email=None, invitation_token=token, **signup_data(practice_slug="other"))
    assert error.value.code == "invitation_used"


def test_failed_signup_leaves_no_user_practice_membership_and_the_invitation_pending(
    practice_a: Pair, make_practice: Callable[..., Pair]
) -> None:
    owner, alpha = practice_a
    make_practice("taken")
    invitation = invite(alpha, owner, "nina@example.com").created[0]
    token = token_for(invitation)
    users_before, practices_before = User.objects.count(), Practice.objects.count()

    with pytest.raises(ApplicationError) as error:
        account_signup(email=None, invitation_token=token, **signup_data(practice_slug="taken"))
    assert "practice_slug" in error.value.fields

    assert (User.objects.count(), Practice.objects.count()) == (users_before, practices_before)
    assert not User.objects.filter(email="nina@example.com").exists()
    assert not Membership.objects.filter(practice=alpha, user__email="nina@example.com").exists()
    assert Referral.objects.count() == 0
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING
    assert account_signup(email=None, invitation_token=token, **signup_data()).user.email == "nina@example.com"


def test_existing_user_with_the_invited_email_gets_the_membership_only(practice_a: Pair, practice_b: Pair) -> None:
    owner, alpha = practice_a
    colleague, _bravo = practice_b
    invitation = invite(alpha, owner, colleague.email.upper(), role=Role.RECEPTIONIST).created[0]
    practices_before = Practice.objects.count()

    membership = services.invitation_accept(token=token_for(invitation), user=colleague)

    assert (membership.practice, membership.role, membership.joined_via) == (
        alpha,
        Role.RECEPTIONIST,
        JoinedVia.INVITATION,
    )
    assert Practice.objects.count() == practices_before  # no second practice forced on them
    assert Referral.objects.count() == 0  # already a user: not a referred signup


def test_a_different_logged_in_email_is_refused_with_an_explanation(practice_a: Pair, practice_b: Pair) -> None:
    owner, alpha = practice_a
    other, _ = practice_b
    invitation = invite(alpha, owner, "nina@example.com").created[0]
    token = token_for(invitation)
    with pytest.raises(ApplicationError) as error:
        services.invitation_accept(token=token, user=other)
    assert (error.value.code, error.value.status_code) == ("email_mismatch", 403)
    assert "nina@example.com" in error.value.message and other.email in error.value.message
    assert not Membership.objects.filter(user=other, practice=alpha).exists()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING


@pytest.mark.parametrize(
    ("state", "code", "status"),
    [
        ("forged", "invitation_not_found", 404),
        ("expired", "invitation_expired", 410),
        ("revoked", "invitation_revoked", 410),
        ("used", "invitation_used", 410),
    ],
)
def test_unusable_tokens_say_why(practice_a: Pair, state: str, code: str, status: int) -> None:
    owner, alpha = practice_a
    invitation = invite(alpha, owner, "nina@example.com").created[0]
    token = token_for(invitation)
    if state == "forged":
        token = token[:-4] + "AAAA"
    elif state == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    elif state == "revoked":
        services.invitation_revoke(invitation_id=invitation.pk, practice=alpha, by=owner)
    else:
        account_signup(email=None, invitation_token=token, **signup_data())

    for attempt in (
        lambda: services.invitation_get_usable(token=token),
        lambda: account_signup(email=None, invitation_token=token, **signup_data(practice_slug="second")),
    ):
        with pytest.raises(ApplicationError) as error:
            attempt()
        assert (error.value.code, error.value.status_code) == (code, status)
    assert not Practice.objects.filter(slug="second").exists()
    if state == "expired":
        invitation.refresh_from_db()
        assert invitation.status == InvitationStatus.EXPIRED  # the transition is recorded


def test_expire_task_persists_expiry_and_frees_the_address_for_a_new_invitation(practice_a: Pair) -> None:
    owner, alpha = practice_a
    invitation = invite(alpha, owner, "nina@example.com").created[0]
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - datetime.timedelta(days=1))
    assert services.invitations_expire() == 1
    fresh = invite(alpha, owner, "nina@example.com")
    assert len(fresh.created) == 1 and fresh.created[0].pk != invitation.pk
