"""Sending lifecycle emails and unsubscribing from them.

The sending design (Zulip's scheduled emails): the scheduled row is the outbox and, through its
unique constraint, the sent-record. Each row is claimed with SELECT ... FOR UPDATE SKIP LOCKED in
a transaction of its own and sent while the lock is held; only the commit marks it sent. So:
- two claimers (two beat instances, a duplicate task) never take the same row;
- a worker killed mid-send dies with its transaction: the row is still scheduled, its lock is
  gone, and the next run sends it. Should the mail server have accepted the message just before
  the kill, the resend carries the same Message-ID (LifecycleMessage.message_id), which mail
  systems use to drop the duplicate; nothing is ever lost;
- Redis plays no part: the beat job reads the database."""

from __future__ import annotations

import datetime
import logging
import smtplib
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone, translation

from lifecycle.models import (
    LifecycleMessage,
    LifecycleMessageStatus,
    LifecycleStep,
    LifecycleStepText,
    LifecycleUnsubscribe,
)
from lifecycle.scheduling import is_sane_hour, recipient_time_zone, sane_moment
from lifecycle.texts import render_text
from onboarding.models import PracticeMilestone
from referrals.services import referral_code_get_or_create
from tenants.access import membership_get_active, membership_has_permission
from tenants.models import User
from tenants.urls_helpers import practice_url, public_url

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "dentaltap.lifecycle.unsubscribe"
MAX_ATTEMPTS = 5


# --------------------------------------------------------------------------- unsubscribe


def unsubscribe_token(*, user: User) -> str:
    """Signed with the secret key, per recipient: it names this user only and cannot be made
    for another without the key."""
    return signing.dumps({"u": user.pk}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_url(*, user: User) -> str:
    return public_url(f"/emails/unsubscribe/{unsubscribe_token(user=user)}/")


def unsubscribe_user_for(*, token: str) -> User | None:
    """The user a token names, or None for a forged, altered or unknown one."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    user_id = data.get("u") if isinstance(data, dict) else None
    if not isinstance(user_id, int):
        return None
    return User.objects.filter(pk=user_id).first()


@transaction.atomic
def lifecycle_unsubscribe(*, user: User) -> bool:
    """No more lifecycle emails for this person; what was scheduled is skipped. True if new."""
    _row, created = LifecycleUnsubscribe.objects.get_or_create(user=user)
    LifecycleMessage.objects.filter(recipient=user, status=LifecycleMessageStatus.SCHEDULED).update(
        status=LifecycleMessageStatus.SKIPPED, note="unsubscribed"
    )
    return created


# --------------------------------------------------------------------------- sending


def recipient_language(user: User) -> str:
    """Users carry no language yet (issue 13 adds one): a `language` field is used when there."""
    language = str(getattr(user, "language", "") or "")
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def step_text(step: LifecycleStep, language: str) -> LifecycleStepText | None:
    texts = {text.language: text for text in step.texts.all()}
    return texts.get(language) or texts.get(settings.LANGUAGE_CODE)


def message_context(message: LifecycleMessage) -> dict[str, str]:
    practice, recipient = message.practice, message.recipient
    return {
        "recipient_name": recipient.get_full_name(),
        "practice_name": practice.name,
        "practice_url": practice_url(practice, "/"),
        "action_url": practice_url(practice, message.step.action_path),
        "referral_link": public_url(f"/r/{referral_code_get_or_create(user=recipient).code}/"),
        "unsubscribe_url": unsubscribe_url(user=recipient),
    }


def message_email_build(message: LifecycleMessage, text: LifecycleStepText) -> EmailMessage:
    context = message_context(message)
    with translation.override(text.language):
        subject = " ".join(render_text(text.subject, context).split())
        body = render_text(text.body, context)
    return EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.recipient.email],
        headers={
            "Message-ID": message.message_id,
            # RFC 8058 one-click: mail clients POST "List-Unsubscribe=One-Click" to the URL.
            "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-DentalTap-Lifecycle": message.step.key,
        },
    )


def _skip(message: LifecycleMessage, note: str) -> str:
    message.status, message.note = LifecycleMessageStatus.SKIPPED, note
    message.save(update_fields=["status", "note"])
    return "skipped"


def _deliver(message: LifecycleMessage, now: datetime.datetime) -> str:  # noqa: PLR0911 - one exit per outcome
    step, recipient = message.step, message.recipient
    if not step.is_active:
        return _skip(message, "step switched off")
    if (
        step.awaited_milestone
        and PracticeMilestone.objects.filter(practice_id=message.practice_id, key=step.awaited_milestone).exists()
    ):
        return _skip(message, f"{step.awaited_milestone} reached meanwhile")
    if LifecycleUnsubscribe.objects.filter(user=recipient).exists():
        return _skip(message, "unsubscribed")
    membership = membership_get_active(user=recipient, practice=message.practice)
    if not membership_has_permission(membership, step.recipient_permission):
        return _skip(message, "no longer a member who can act on it")
    time_zone = recipient_time_zone(recipient)
    if not is_sane_hour(now, time_zone):  # late claim (beat was down overnight): wait for morning
        message.due_at = sane_moment(now, time_zone)
        message.save(update_fields=["due_at"])
        return "deferred"
    language = recipient_language(recipient)
    text = step_text(step, language)
    if text is None:
        message.status, message.note = LifecycleMessageStatus.FAILED, "the step has no text"
        message.save(update_fields=["status", "note"])
        return "failed"
    message.attempts += 1
    try:
        message_email_build(message, text).send()
    except (smtplib.SMTPException, OSError) as error:
        message.note = f"{type(error).__name__}: {error}"[:300]
        if message.attempts >= MAX_ATTEMPTS:
            message.status = LifecycleMessageStatus.FAILED
        else:
            message.due_at = now + datetime.timedelta(minutes=2**message.attempts)
        message.save(update_fields=["attempts", "note", "status", "due_at"])
        logger.warning("lifecycle email %s not sent (attempt %s): %s", message.pk, message.attempts, error)
        return "retry"
    message.status, message.sent_at, message.language = LifecycleMessageStatus.SENT, now, text.language
    message.save(update_fields=["status", "sent_at", "language", "attempts"])
    return "sent"


@dataclass
class SendRun:
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    @property
    def sent(self) -> int:
        return self.outcomes.get("sent", 0)


def lifecycle_send_due(*, limit: int = 2000, now: datetime.datetime | None = None) -> SendRun:
    """Send what is due, one row per transaction, claimed FOR UPDATE SKIP LOCKED (see the
    module's docstring). Safe to run in several processes at once."""
    run = SendRun()
    for _ in range(limit):
        moment = now or timezone.now()
        with transaction.atomic():
            message = (
                LifecycleMessage.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("step", "practice", "recipient")
                .filter(status=LifecycleMessageStatus.SCHEDULED, due_at__lte=moment)
                .order_by("due_at", "pk")
                .first()
            )
            if message is None:
                break
            run.count(_deliver(message, moment))
    if run.outcomes:
        logger.info("lifecycle emails: %s", run.outcomes)
    return run
