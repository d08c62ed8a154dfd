"""Inviting: parse a pasted list, invite one or many, queue their emails, resend, revoke."""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from dentaltap.emails import email_language
from dentaltap.errors import ApplicationError, ConflictError
from dentaltap.locks import advisory_lock
from invitations import tokens
from invitations.models import Invitation, InvitationStatus
from invitations.roles import grantable_roles
from onboarding.models import MilestoneKey
from onboarding.services import milestone_record
from tenants.access import Permission, membership_get_active, membership_has_permission
from tenants.models import Membership, MembershipStatus, Practice, Role, User, normalize_email

logger = logging.getLogger(__name__)

# Entries of a pasted list are separated by commas, semicolons and new lines (and spaces).
_SEGMENTS = re.compile(r"[,;\n]+")
# `Dr. Anna Weber <anna@example.com>`: the address between angle brackets.
_ANGLE_ADDRESS = re.compile(r"<([^<>]+)>")


def _expiry() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(days=settings.INVITATION_EXPIRY_DAYS)


def _unguessable_hash() -> str:
    # A placeholder nobody holds the token for: the real token is minted when the email is sent.
    return tokens.token_hash(tokens.token_new())


def emails_parse(raw: str | Sequence[str]) -> list[str]:
    """Split a pasted list into candidate addresses, in order. Entries are separated by commas,
    semicolons, new lines or spaces; `Dr. Anna Weber <anna@example.com>` gives the address."""
    chunks = [raw] if isinstance(raw, str) else [str(chunk) for chunk in raw]
    found: list[str] = []
    for chunk in chunks:
        for segment in _SEGMENTS.split(chunk):
            angle = _ANGLE_ADDRESS.search(segment)
            if angle is not None:
                found.append(angle.group(1).strip())
                continue
            found.extend(part.strip("\"'") for part in segment.split() if part.strip("\"'"))
    return found


@dataclass(frozen=True)
class InvitationIssue:
    email: str
    code: str
    message: str


@dataclass
class InvitationBatch:
    created: list[Invitation] = field(default_factory=list)
    resent: list[Invitation] = field(default_factory=list)
    issues: list[InvitationIssue] = field(default_factory=list)

    @property
    def invitations(self) -> list[Invitation]:
        return [*self.created, *self.resent]


def _require_inviter(*, practice: Practice, user: User) -> Membership:
    membership = membership_get_active(user=user, practice=practice)
    if not membership_has_permission(membership, Permission.INVITE_COLLEAGUES):
        raise ApplicationError(
            _("Your role in this practice does not allow inviting colleagues."),
            code="permission_denied",
            status_code=403,
        )
    assert membership is not None  # noqa: S101 - implied by the permission check
    return membership


def _valid_addresses(emails: str | Sequence[str], issues: list[InvitationIssue]) -> list[str]:
    """The distinct valid addresses, normalised, in order; each invalid one added to `issues`."""
    candidates = emails_parse(emails)
    if not candidates:
        text = _("Enter at least one email address.")
        raise ApplicationError(text, code="required", fields={"emails": [text]})
    if len(candidates) > settings.INVITATION_MAX_PER_REQUEST:
        most = settings.INVITATION_MAX_PER_REQUEST
        text = ngettext(
            "Invite at most %(count)d person at once.", "Invite at most %(count)d people at once.", most
        ) % {"count": most}
        raise ApplicationError(text, code="too_many", fields={"emails": [text]})
    valid: dict[str, None] = {}
    for candidate in candidates:
        email = normalize_email(candidate)
        try:
            validate_email(email)
        except ValidationError:
            issues.append(InvitationIssue(candidate, "invalid_email", _("This is not a valid email address.")))
            continue
        valid[email] = None
    if not valid:
        text = _("None of these is a valid email address.")
        raise ApplicationError(text, code="invalid", fields={"emails": [f"{i.email}: {i.message}" for i in issues]})
    return list(valid)


def invitation_create_many(
    *,
    practice: Practice,
    invited_by: User,
    emails: str | Sequence[str],
    role: str = Role.ASSISTANT,
    message: str = "",
    language: str = "",
) -> InvitationBatch:
    """Invite every valid address in `emails`; report the others one by one.

    `language` is the email's language for addresses without an account (an account's own
    language wins); empty: the inviter's language.

    An address with a pending invitation to this practice is re-invited (resend: new token,
    expiry reset, the new role and message). Members of the practice are reported, not invited.
    The emails go out from a task after commit."""
    membership = _require_inviter(practice=practice, user=invited_by)
    if role not in grantable_roles(membership):
        message_text = _("You cannot invite people with this role.")
        raise ApplicationError(message_text, code="role_not_allowed", fields={"role": [message_text]})
    language = _invitation_language(language, invited_by)
    message = message.strip()
    if len(message) > 1000:
        text = _("Keep the message under 1000 characters.")
        raise ApplicationError(text, fields={"message": [text]})

    batch = InvitationBatch()
    valid = _valid_addresses(emails, batch.issues)
    with transaction.atomic():
        # One practice's invitation batches run one at a time; the partial unique constraint
        # still guards the rule itself.
        advisory_lock(f"invitations:{practice.pk}")
        statuses = dict(
            Membership.objects.filter(
                practice=practice,
                status__in=[MembershipStatus.ACTIVE, MembershipStatus.SUSPENDED],
                user__email__in=valid,
            ).values_list("user__email", "status")
        )
        members = {email for email, status in statuses.items() if status == MembershipStatus.ACTIVE}
        suspended = {email for email, status in statuses.items() if status == MembershipStatus.SUSPENDED}
        pending = {
            invitation.email: invitation
            for invitation in Invitation.objects.select_for_update().filter(
                practice=practice, status=InvitationStatus.PENDING, email__in=valid
            )
        }
        now = timezone.now()
        expires_at = _expiry()
        new: list[Invitation] = []
        for email in valid:
            if email in members:
                batch.issues.append(
                    InvitationIssue(email, "already_member", _("This person is already a member of the practice."))
                )
            elif email in suspended:
                # An invitation must not undo a suspension: that is a team manager's decision.
                text = _("This person's access is suspended. A team manager can restore it on the Team page.")
                batch.issues.append(InvitationIssue(email, "member_suspended", text))
            elif email in pending:
                invitation = pending[email]
                invitation.role, invitation.message, invitation.invited_by = role, message, invited_by
                invitation.language = language
                invitation.expires_at, invitation.send_requested_at = expires_at, now
                invitation.token_hash = _unguessable_hash()
                batch.resent.append(invitation)
            else:
                new.append(
                    Invitation(
                        practice=practice,
                        invited_by=invited_by,
                        email=email,
                        role=role,
                        message=message,
                        language=language,
                        token_hash=_unguessable_hash(),
                        expires_at=expires_at,
                        send_requested_at=now,
                    )
                )
        Invitation.objects.bulk_update(
            batch.resent,
            [
                "role",
                "message",
                "language",
                "invited_by",
                "expires_at",
                "send_requested_at",
                "token_hash",
                "updated_at",
            ],
        )
        batch.created = Invitation.objects.bulk_create(new)
        ids = [invitation.pk for invitation in batch.invitations]
        if ids:
            transaction.on_commit(lambda: invitations_enqueue_send(ids), robust=True)
            milestone_record(practice_id=practice.pk, key=MilestoneKey.FIRST_COLLEAGUE_INVITED)
    logger.info(
        "practice %s: %d invited, %d resent, %d refused by user %s",
        practice.pk,
        len(batch.created),
        len(batch.resent),
        len(batch.issues),
        invited_by.pk,
    )
    return batch


def _invitation_language(language: str, invited_by: User) -> str:
    if not language:
        return email_language(user=invited_by, fallback=translation.get_language())
    if language not in {code for code, _name in settings.LANGUAGES}:
        text = _("Choose one of the languages offered.")
        raise ApplicationError(text, code="invalid_language", fields={"language": [text]})
    return language


def invitations_enqueue_send(invitation_ids: Sequence[int]) -> int:
    """Publish one send task per invitation; stop at the first broker failure (the beat task
    `invitations_send_unsent` picks up whatever was not sent). Returns how many were queued."""
    from invitations.tasks import invitation_send  # noqa: PLC0415 - tasks import services

    queued = 0
    for invitation_id in invitation_ids:
        try:
            invitation_send.delay(invitation_id)
        except (BrokerError, RedisError, OSError) as error:
            logger.warning(
                "broker unavailable, %d invitation email(s) left for the retry: %s", len(invitation_ids) - queued, error
            )
            break
        queued += 1
    return queued


def _lock_for_management(*, invitation_id: int, practice: Practice, by: User) -> Invitation:
    membership = _require_inviter(practice=practice, user=by)
    invitation = Invitation.objects.select_for_update().filter(pk=invitation_id, practice=practice).first()
    if invitation is None:
        raise ApplicationError(_("This invitation does not exist."), code="not_found", status_code=404)
    if invitation.invited_by_id != by.pk and not membership_has_permission(membership, Permission.MANAGE_TEAM):
        raise ApplicationError(
            _("Only the person who sent this invitation or a team manager may change it."),
            code="permission_denied",
            status_code=403,
        )
    return invitation


@transaction.atomic
def invitation_resend(*, invitation_id: int, practice: Practice, by: User) -> Invitation:
    """A new email with a new token; the expiry starts again. The old link stops working."""
    invitation = _lock_for_management(invitation_id=invitation_id, practice=practice, by=by)
    if invitation.status not in (InvitationStatus.PENDING, InvitationStatus.EXPIRED):
        raise ConflictError(
            _("This invitation was %(status)s and cannot be sent again.")
            % {"status": invitation.get_status_display().lower()},
            code=f"invitation_{invitation.status}",
        )
    invitation.status = InvitationStatus.PENDING
    invitation.token_hash = _unguessable_hash()
    invitation.expires_at = _expiry()
    invitation.send_requested_at = timezone.now()
    try:
        with transaction.atomic():
            invitation.save(update_fields=["status", "token_hash", "expires_at", "send_requested_at", "updated_at"])
    except IntegrityError:
        raise ConflictError(
            _("A newer invitation to this address is already pending."), code="invitation_pending_exists"
        ) from None
    invitation_id = invitation.pk
    transaction.on_commit(lambda: invitations_enqueue_send([invitation_id]), robust=True)
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation_id: int, practice: Practice, by: User) -> Invitation:
    invitation = _lock_for_management(invitation_id=invitation_id, practice=practice, by=by)
    if invitation.status not in (InvitationStatus.PENDING, InvitationStatus.EXPIRED):
        raise ConflictError(
            _("This invitation was already %(status)s.") % {"status": invitation.get_status_display().lower()},
            code=f"invitation_{invitation.status}",
        )
    invitation.status = InvitationStatus.REVOKED
    invitation.save(update_fields=["status", "updated_at"])
    return invitation
