"""The seat limit at the link: the refusal the invitee sees and the notice to the inviter."""

from __future__ import annotations

import datetime
import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.limits import practitioner_seats
from dentaltap.emails import email_build_per_language, email_language
from dentaltap.locks import row_lock
from dentaltap.translated import translated_lazy
from invitations import tokens
from invitations.models import Invitation, InvitationStatus
from invitations.services.link import InvitationLinkError
from tenants.access import Permission, members_with_permission, membership_get_active
from tenants.models import Role
from tenants.urls_helpers import practice_url

logger = logging.getLogger(__name__)

SEAT_NOTICE_INTERVAL = datetime.timedelta(hours=12)


def invitation_seat_limit_refusal(*, token: str) -> InvitationLinkError:
    """The practice's plan had no practitioner seat for the invitee. Told to them in their own
    terms (the owner's upgrade message is not theirs to act on), and the inviter is notified
    after commit (at most every SEAT_NOTICE_INTERVAL per invitation). The invitation stays
    pending: the same link works once a seat is free."""
    invitation = (
        Invitation.objects.select_related("practice", "invited_by").filter(token_hash=tokens.token_hash(token)).get()
    )
    now = timezone.now()
    with transaction.atomic():
        owed = (
            Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.PENDING)
            .filter(Q(seat_blocked_at__isnull=True) | Q(seat_blocked_at__lt=now - SEAT_NOTICE_INTERVAL))
            .update(seat_blocked_at=now, updated_at=now)
        )
        if owed:
            invitation_id = invitation.pk
            transaction.on_commit(lambda: _enqueue_seat_notice(invitation_id), robust=True)
    seats = practitioner_seats(practice=invitation.practice)
    inviter = invitation.invited_by.get_full_name() if invitation.invited_by else invitation.practice.name
    return InvitationLinkError(
        _(
            "%(practice)s cannot take you in as %(role)s yet: its %(plan)s plan has no free seat for owners and "
            "dentists. This is for the practice to fix, not you: we have told %(inviter)s. Once they upgrade or "
            "invite you with another role, this same link will work."
        )
        % {
            "practice": invitation.practice.name,
            "role": invitation.get_role_display(),
            "plan": seats.plan_name if seats else "",
            "inviter": inviter,
        },
        code="invitation_seat_limit",
        status_code=409,
    )


def _enqueue_seat_notice(invitation_id: int) -> None:
    from invitations.tasks import invitation_seat_limit_notify  # noqa: PLC0415 - tasks import services

    invitation_seat_limit_notify.delay(invitation_id)


def invitation_seat_limit_notify(*, invitation_id: int) -> int:
    """Tell the inviter (and whoever may manage billing) that an invitee could not join for
    lack of a practitioner seat. Safe to run twice: one email per blocked attempt recorded.
    Returns how many emails went out."""
    with transaction.atomic():
        invitation = row_lock(Invitation.objects.select_related("practice", "invited_by"), pk=invitation_id)
        if invitation is None or invitation.seat_blocked_at is None:
            return 0
        notified = invitation.seat_blocked_notified_at
        if notified is not None and notified >= invitation.seat_blocked_at:
            return 0
        # Each recipient reads it in their own language.
        recipients = {
            m.user.email: email_language(user=m.user)
            for m in members_with_permission(practice=invitation.practice, permission=Permission.MANAGE_BILLING)
        }
        inviter_membership = (
            membership_get_active(user=invitation.invited_by, practice=invitation.practice)
            if invitation.invited_by
            else None
        )
        if inviter_membership is not None and invitation.invited_by is not None:
            recipients[invitation.invited_by.email] = email_language(user=invitation.invited_by)
        seats = practitioner_seats(practice=invitation.practice)
        context = {
            "invitee_email": invitation.email,
            "practice_name": invitation.practice.name,
            "role": Role(invitation.role).label,
            # The plan's name in each recipient's language (read when their copy is rendered).
            "plan_name": translated_lazy(seats.plan) if seats else "",
            "seat_limit": seats.limit if seats else 0,
            "billing_url": practice_url(invitation.practice, "/billing/"),
            "invitations_url": practice_url(invitation.practice, "/invitations/"),
        }
        messages = email_build_per_language(
            template_prefix="invitations/emails/seat_limit",
            context=context,
            recipients=sorted(recipients.items()),
            time_zone=invitation.practice.time_zone,
        )
        invitation.seat_blocked_notified_at = timezone.now()
        invitation.save(update_fields=["seat_blocked_notified_at", "updated_at"])
        for message in messages:
            message.send()
    return len(recipients)
