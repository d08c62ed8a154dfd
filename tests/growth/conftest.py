"""Fixtures for the growth loop (invitations, referrals, rate limits)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django_tenants.utils import schema_context

from invitations import services as invitation_services
from invitations import tokens
from invitations.models import Invitation
from tenants.models import Practice, Role, User
from tests.conftest import BASE  # fixtures of tests/conftest.py apply here too

Pair = tuple[User, Practice]
PASSWORD = "molar-Crown-2026"
LINK = re.compile(r"http://dentaltap\.localhost:\d+/invitations/([A-Za-z0-9_-]+)/\?ref=([A-Za-z0-9_-]+)")


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """Rate-limit counters live in Redis (this run's own database): start each test at zero."""
    cache.clear()
    yield


def signup_data(**changes: str) -> dict[str, str]:
    return {
        "full_name": "Dr. Nina Kraus",
        "password": PASSWORD,
        "practice_name": "Kraus Dental",
        "practice_slug": "kraus",
        **changes,
    }


def invite(practice: Practice, by: User, emails: str | list[str], role: str = Role.ASSISTANT, message: str = "") -> Any:
    with schema_context("public"):
        return invitation_services.invitation_create_many(
            practice=practice, invited_by=by, emails=emails, role=role, message=message
        )


def token_for(invitation: Invitation) -> str:
    """What the email would carry: mint a token for the invitation (as the send task does)."""
    token = tokens.token_new()
    Invitation.objects.filter(pk=invitation.pk).update(token_hash=tokens.token_hash(token))
    return token


def sent_link(message: Any) -> tuple[str, str]:
    """(token, referral code) from an invitation email's text body."""
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1), match.group(2)


@pytest.fixture
def outbox() -> list[Any]:
    mail.outbox = []
    return mail.outbox


@pytest.fixture
def owner_and_practice(practice_a: Pair) -> Pair:
    return practice_a


ClientFor = Callable[..., Any]
HOST = BASE
