"""Sending: the invitation email (a fresh token each send), the owed ones again, expiry."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from dentaltap.emails import email_build, email_language
from dentaltap.locks import row_lock
from invitations import handoffs, tokens
from invitations.models import Invitation, InvitationStatus
from invitations.services.invite import invitations_enqueue_send
from onboarding.models import MilestoneKey
from onboarding.services import milestone_record
from tenants.models import Role, User
from tenants.urls_helpers import public_url

logger = logging.getLogger(__name__)


def invitation_link(*, token: str, referral_code: str) -> str:
    """The link in the email, on the base domain (never built from a request's Host header)."""
    return public_url(f"/invitations/{token}/?ref={referral_code}")


def invitation_send(*, invitation_id: int) -> bool:
    """Mint a token and email the invitation, once per send request. Safe to run twice: the row
    lock and `sent_at >= send_requested_at` make a duplicate task a no-op. Returns True if sent.

    The email goes out while the row is locked: if sending fails, the transaction rolls back and
    the task retries; if the commit failed after a send, the beat task sends a fresh link."""
    with transaction.atomic():
        invitation = row_lock(Invitation.objects.select_related("practice", "invited_by"), pk=invitation_id)
        if invitation is None or invitation.status != InvitationStatus.PENDING or invitation.is_expired:
            return False
        if invitation.sent_at is not None and invitation.sent_at >= invitation.send_requested_at:
            return False
        token = tokens.token_new()
        invitation.token_hash = tokens.token_hash(token)
        invitation.sent_at = timezone.now()
        invitation.send_count += 1
        invitation.save(update_fields=["token_hash", "sent_at", "send_count", "updated_at"])
        invitation_email_build(invitation=invitation, token=token).send()
        # Every invitation email carries the inviter's referral link: the practice's first one out.
        milestone_record(practice_id=invitation.practice_id, key=MilestoneKey.FIRST_REFERRAL_SENT)
    return True


def invitation_email_build(*, invitation: Invitation, token: str) -> EmailMultiAlternatives:
    inviter = invitation.invited_by
    code = handoffs.referral_code_for(inviter) if inviter else ""
    context = {
        "inviter_name": inviter.get_full_name() if inviter else invitation.practice.name,
        "inviter_email": inviter.email if inviter else "",
        "practice_name": invitation.practice.name,
        "role": Role(invitation.role).label,
        "personal_message": invitation.message,
        "accept_url": invitation_link(token=token, referral_code=code),
        "expires_at": invitation.expires_at,
        "home_url": public_url("/"),
    }
    # An address that already has an account reads its own language; a new one the language
    # the inviter picked on the invite form.
    invitee = User.objects.filter(email__iexact=invitation.email).only("language").first()
    return email_build(
        template_prefix="invitations/emails/invitation",
        context=context,
        to=[invitation.email],
        language=email_language(user=invitee, fallback=invitation.language),
        time_zone=invitation.practice.time_zone,
        reply_to=[inviter.email] if inviter else None,
        headers={"X-DentalTap-Invitation": str(invitation.pk)},
    )


def invitations_send_unsent() -> int:
    """Re-queue invitations whose email is owed for a while (e.g. the broker was down)."""
    cutoff = timezone.now() - datetime.timedelta(seconds=settings.INVITATION_RESEND_UNSENT_AFTER_SECONDS)
    ids = list(
        Invitation.objects.filter(
            status=InvitationStatus.PENDING, expires_at__gt=timezone.now(), send_requested_at__lte=cutoff
        )
        .filter(Q(sent_at__isnull=True) | Q(sent_at__lt=F("send_requested_at")))
        .order_by("send_requested_at")
        .values_list("pk", flat=True)[:2000]
    )
    return invitations_enqueue_send(ids) if ids else 0


def invitations_expire() -> int:
    """Persist the expiry of pending invitations past their date (their links already refuse)."""
    return Invitation.objects.filter(status=InvitationStatus.PENDING, expires_at__lte=timezone.now()).update(
        status=InvitationStatus.EXPIRED, updated_at=timezone.now()
    )
