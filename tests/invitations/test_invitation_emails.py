"""The invitation email: sent by a task after commit (a real worker in one test), once per send
request, with a working link; a broker outage never fails the request and the beat catches up."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from invitations import services
from invitations.models import Invitation
from referrals.models import ReferralCode
from tenants.models import Role
from tests.conftest import PORT, redis_down
from tests.growth_support import Pair, invite, sent_link

# The practices here are their public rows only: no test enters a practice's tables (conftest).
pytestmark = pytest.mark.practice_rows_only


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.django_db
def test_the_email_has_html_and_text_with_inviter_practice_message_and_a_working_link(
    practice_a: Pair, outbox: list[Any]
) -> None:
    owner, alpha = practice_a
    invitation = invite(alpha, owner, "nina@example.com", role=Role.DENTIST, message="Join us on Tuesdays!").created[0]

    assert services.invitation_send(invitation_id=invitation.pk) is True

    assert len(outbox) == 1
    message = outbox[0]
    assert message.to == ["nina@example.com"] and message.reply_to == [owner.email]
    assert owner.full_name in message.subject and alpha.name in message.subject
    html = message.alternatives[0][0]
    assert message.alternatives[0][1] == "text/html"
    for body in (message.body, html):
        assert "Join us on Tuesdays!" in body and "Dentist" in body and alpha.name in body
    token, code = sent_link(message)
    assert code == ReferralCode.objects.get(user=owner).code  # the inviter's referral code rides along
    assert token in html
    assert Invitation.objects.get(pk=invitation.pk).token_hash != token  # only the hash is stored
    assert services.invitation_get_usable(token=token).pk == invitation.pk
    # The link is on the base domain and the public port from settings (sent by a task: there is
    # no request whose Host header could leak in).
    assert f"http://dentaltap.localhost:{PORT}/invitations/{token}/?ref={code}" in message.body


@pytest.mark.django_db
def test_sending_twice_sends_once_and_a_resend_sends_a_new_link(practice_a: Pair, outbox: list[Any]) -> None:
    owner, alpha = practice_a
    invitation = invite(alpha, owner, "nina@example.com").created[0]
    assert services.invitation_send(invitation_id=invitation.pk) is True
    assert services.invitation_send(invitation_id=invitation.pk) is False  # a duplicate task is a no-op
    assert len(outbox) == 1
    first_token, _ = sent_link(outbox[0])

    services.invitation_resend(invitation_id=invitation.pk, practice=alpha, by=owner)
    assert services.invitation_send(invitation_id=invitation.pk) is True
    second_token, _ = sent_link(outbox[1])
    assert second_token != first_token
    with pytest.raises(services.InvitationLinkError):
        services.invitation_get_usable(token=first_token)
    assert services.invitation_get_usable(token=second_token).send_count == 2


@pytest.mark.django_db
def test_revoked_or_expired_invitations_are_not_sent(practice_a: Pair, outbox: list[Any]) -> None:
    owner, alpha = practice_a
    revoked, expired = invite(alpha, owner, ["a@example.com", "b@example.com"]).created
    services.invitation_revoke(invitation_id=revoked.pk, practice=alpha, by=owner)
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    assert not services.invitation_send(invitation_id=revoked.pk)
    assert not services.invitation_send(invitation_id=expired.pk)
    assert outbox == []


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_emails_after_commit(
    celery_worker: object, practice_a: Pair, client_for: Callable[..., Client]
) -> None:
    owner, alpha = practice_a
    mail.outbox = []
    response = client_for(owner, alpha).post(
        "/api/invitations/",
        {"emails": ["one@example.com", "two@example.com", "broken"], "role": "assistant"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content

    assert wait_for(lambda: len(mail.outbox) == 2), "the worker did not send both emails"
    assert sorted(message.to[0] for message in mail.outbox) == ["one@example.com", "two@example.com"]
    assert wait_for(lambda: Invitation.objects.filter(sent_at__isnull=True).count() == 0)
    assert sorted(Invitation.objects.values_list("send_count", flat=True)) == [1, 1]


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_keeps_the_invitation_and_the_beat_task_sends_it_later(
    practice_a: Pair, client_for: Callable[..., Client], settings: Any, request: pytest.FixtureRequest
) -> None:
    from invitations import tasks

    owner, alpha = practice_a
    publish = mock.patch.object(tasks.invitation_send, "delay", wraps=tasks.invitation_send.delay)
    with redis_down(settings), publish as publishing:
        response = client_for(owner, alpha).post(
            "/api/invitations/", {"emails": ["one@example.com", "two@example.com"]}, content_type="application/json"
        )
    assert response.status_code == 201, response.content
    assert publishing.call_count == 1  # one failed publish, then it stops: not one wait per invitation
    assert Invitation.objects.filter(sent_at__isnull=True, status="pending").count() == 2

    # The broker is back: the beat task, run by a real worker, re-queues what is owed and the
    # worker sends it.
    request.getfixturevalue("celery_worker")
    mail.outbox = []
    settings.INVITATION_RESEND_UNSENT_AFTER_SECONDS = 0
    tasks.invitations_send_unsent.delay()
    assert wait_for(lambda: len(mail.outbox) == 2), "the owed emails were not sent"
    assert sorted(message.to[0] for message in mail.outbox) == ["one@example.com", "two@example.com"]
    assert wait_for(lambda: not Invitation.objects.filter(sent_at__isnull=True).exists())
    assert services.invitations_send_unsent() == 0  # nothing owed any more
    assert sorted(Invitation.objects.values_list("send_count", flat=True)) == [1, 1]
