"""Password reset: Django's token flow (stateless tokens that die with the password, after
PASSWORD_RESET_TIMEOUT), with DentalTap's rules:

- the request path is the same for every address: one task queued after commit, one answer, so
  neither the page nor its timing tells whether an account exists (the task looks the address up);
- the email goes out from that task (never inside the request), with a link built from the public
  base domain (never from the request's Host header);
- a reset ends every other session (Django checks the session against the password hash on each
  request), revokes the account's API tokens and clears its failed-login pauses.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError
from rest_framework.authtoken.models import Token

from dentaltap.emails import email_build, email_language
from tenants.models import User, normalize_email
from tenants.urls_helpers import public_url

logger = logging.getLogger(__name__)


def password_reset_request(*, email: str) -> None:
    """Queue the reset email for `email` after commit, whether or not an account has it."""
    address = normalize_email(email)
    transaction.on_commit(lambda: _enqueue(address), robust=True)


def _enqueue(address: str) -> None:
    from tenants.tasks import password_reset_email_send  # noqa: PLC0415 - tasks import this module

    try:
        password_reset_email_send.delay(address)
    except (BrokerError, RedisError, OSError) as error:
        # Nothing is stored for a reset: the user asks again. Logged without the address.
        logger.warning("broker unavailable, a password reset email was not queued: %s", error)


def password_reset_link(*, user: User) -> str:
    path = reverse(
        "password-reset-confirm",
        urlconf=settings.PUBLIC_SCHEMA_URLCONF,
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return public_url(path)


def password_reset_email_send(*, email: str) -> int:
    """Email a reset link to the active account with this address, if there is one (Django's
    rule: not to accounts without a usable password). Returns how many were sent. Running it
    twice sends a second, equally valid link: harmless."""
    users = [
        user
        for user in User.objects.filter(email__iexact=normalize_email(email), is_active=True)
        if user.has_usable_password()
    ]
    for user in users:
        password_reset_email_build(user=user).send()
    if users:
        logger.info("password reset email sent to user %s", users[0].pk)
    return len(users)


def password_reset_email_build(*, user: User) -> EmailMultiAlternatives:
    context = {
        "name": user.get_short_name(),
        "reset_url": password_reset_link(user=user),
        "valid_minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
        "login_url": public_url("/login/"),
        "home_url": public_url("/"),
    }
    return email_build(
        template_prefix="tenants/emails/password_reset",
        context=context,
        to=[user.email],
        language=email_language(user=user),
    )


@transaction.atomic
def password_reset_complete(*, user: User, password: str) -> User:
    """Set the new password (already validated). Other sessions end with the old password hash;
    API tokens are revoked; the account's failed-login pauses are cleared (the mailbox proved it)."""
    from axes.models import AccessAttempt  # noqa: PLC0415 - an installed app's model

    user.set_password(password)
    user.save(update_fields=["password"])
    revoked, _count = Token.objects.filter(user=user).delete()
    AccessAttempt.objects.filter(username=user.email).delete()
    logger.info("password reset for user %s (%d API token(s) revoked)", user.pk, revoked)
    return user
