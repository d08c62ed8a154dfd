"""Everything that changes invitations: invite (one or many), resend, revoke, accept, send."""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from billing.limits import PlanLimitReached, practitioner_seats
from dentaltap.errors import ApplicationError, ConflictError
from dentaltap.locks import advisory_lock
from invitations import handoffs, tokens
from invitations.models import Invitation, InvitationStatus
from invitations.roles import grantable_roles
from tenants.access import Permission, members_with_permission, membership_get_active, membership_has_permission
from tenants.models import JoinedVia, Membership, MembershipStatus, Practice, Role, User, normalize_email
from tenants.team.services import membership_create
from tenants.urls_helpers import practice_url, public_url

logger = logging.getLogger(__name__)

# Entries of a pasted list are separated by commas, semicolons and new lines (and spaces).
_SEGMENTS = re.compile(r"[,;\n]+")
# `Dr. Anna Weber <anna@example.com>`: the address between angle brackets.
_ANGLE_ADDRESS = re.compile(r"<([^<>]+)>")


class InvitationLinkError(ApplicationError):
    """A token that cannot be used: its code says why (and the page says what to do)."""

    status_code: int = 410


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


# --------------------------------------------------------------------------- invite


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
) -> InvitationBatch:
    """Invite every valid address in `emails`; report the others one by one.

    An address with a pending invitation to this practice is re-invited (resend: new token,
    expiry reset, the new role and message). Members of the practice are reported, not invited.
    The emails go out from a task after commit."""
    membership = _require_inviter(practice=practice, user=invited_by)
    if role not in grantable_roles(membership):
        message_text = _("You cannot invite people with this role.")
        raise ApplicationError(message_text, code="role_not_allowed", fields={"role": [message_text]})
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
                        token_hash=_unguessable_hash(),
                        expires_at=expires_at,
                        send_requested_at=now,
                    )
                )
        Invitation.objects.bulk_update(
            batch.resent,
            ["role", "message", "invited_by", "expires_at", "send_requested_at", "token_hash", "updated_at"],
        )
        batch.created = Invitation.objects.bulk_create(new)
        ids = [invitation.pk for invitation in batch.invitations]
        if ids:
            transaction.on_commit(lambda: invitations_enqueue_send(ids), robust=True)
    logger.info(
        "practice %s: %d invited, %d resent, %d refused by user %s",
        practice.pk,
        len(batch.created),
        len(batch.resent),
        len(batch.issues),
        invited_by.pk,
    )
    return batch


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


# --------------------------------------------------------------------------- the link


def _link_error(invitation: Invitation | None) -> InvitationLinkError | None:
    if invitation is None:
        return InvitationLinkError(
            _("This invitation link is not valid. Check that you opened the whole link from the email."),
            code="invitation_not_found",
            status_code=404,
        )
    status = invitation.effective_status
    if status == InvitationStatus.EXPIRED:
        return InvitationLinkError(
            _("This invitation has expired. Ask %(name)s to send it again.")
            % {"name": invitation.invited_by.get_full_name() if invitation.invited_by else invitation.practice.name},
            code="invitation_expired",
        )
    if status == InvitationStatus.REVOKED:
        return InvitationLinkError(_("This invitation was withdrawn by the practice."), code="invitation_revoked")
    if status == InvitationStatus.ACCEPTED:
        return InvitationLinkError(
            _("This invitation was already used. Log in to reach the practice."), code="invitation_used"
        )
    return None


def invitation_get_usable(*, token: str) -> Invitation:
    """The pending invitation this token opens, or an InvitationLinkError saying why not. An
    invitation found past its expiry is marked expired (its own statement: the answer is final)."""
    invitation = (
        Invitation.objects.select_related("practice", "invited_by").filter(token_hash=tokens.token_hash(token)).first()
    )
    error = _link_error(invitation)
    if error is not None:
        if invitation is not None and error.code == "invitation_expired":
            Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.PENDING).update(
                status=InvitationStatus.EXPIRED, updated_at=timezone.now()
            )
        raise error
    assert invitation is not None  # noqa: S101 - no error means found
    return invitation


def invitation_lock_usable(*, token: str) -> Invitation:
    """Inside the accepting transaction (an existing user's, or a signup's: accounts): the row
    locked, so one token is consumed once. An InvitationLinkError says why a token cannot be used."""
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("practice", "invited_by")
        .filter(token_hash=tokens.token_hash(token))
        .first()
    )
    error = _link_error(invitation)
    if error is not None:
        raise error
    assert invitation is not None  # noqa: S101
    # The invitation grants what its sender may still grant: not after they lost access or rights.
    inviter = invitation.invited_by
    inviter_membership = membership_get_active(user=inviter, practice=invitation.practice) if inviter else None
    if inviter_membership is None or invitation.role not in grantable_roles(inviter_membership):
        raise ApplicationError(
            _(
                "This invitation is no longer valid: whoever sent it can no longer grant this access. "
                "Ask the practice for a new invitation."
            ),
            code="invitation_revoked",
            status_code=410,
        )
    return invitation


def invitation_mark_accepted(*, invitation: Invitation, user: User) -> None:
    invitation.status = InvitationStatus.ACCEPTED
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["status", "accepted_at", "accepted_by", "updated_at"])


def email_mismatch_error(*, invited: str, current: str) -> ApplicationError:
    return ApplicationError(
        _(
            "This invitation was sent to %(invited)s, but you are logged in as %(current)s. "
            "Log out and open the link again, or ask for an invitation to your own address."
        )
        % {"invited": invited, "current": current},
        code="email_mismatch",
        status_code=403,
    )


# --------------------------------------------------------------------------- the seat limit

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
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("practice", "invited_by")
            .filter(pk=invitation_id)
            .first()
        )
        if invitation is None or invitation.seat_blocked_at is None:
            return 0
        notified = invitation.seat_blocked_notified_at
        if notified is not None and notified >= invitation.seat_blocked_at:
            return 0
        recipients = {
            m.user.email
            for m in members_with_permission(practice=invitation.practice, permission=Permission.MANAGE_BILLING)
        }
        inviter_membership = (
            membership_get_active(user=invitation.invited_by, practice=invitation.practice)
            if invitation.invited_by
            else None
        )
        if inviter_membership is not None and invitation.invited_by is not None:
            recipients.add(invitation.invited_by.email)
        seats = practitioner_seats(practice=invitation.practice)
        context = {
            "invitee_email": invitation.email,
            "practice_name": invitation.practice.name,
            "role": Role(invitation.role).label,
            "plan_name": seats.plan_name if seats else "",
            "seat_limit": seats.limit if seats else 0,
            "billing_url": practice_url(invitation.practice, "/billing/"),
            "invitations_url": practice_url(invitation.practice, "/invitations/"),
        }
        with translation.override(settings.LANGUAGE_CODE):
            subject = _("%(email)s could not join %(practice)s: no practitioner seat left") % {
                "email": invitation.email,
                "practice": invitation.practice.name,
            }
            text = render_to_string("invitations/emails/seat_limit.txt", context)
            html = render_to_string("invitations/emails/seat_limit.html", context)
        invitation.seat_blocked_notified_at = timezone.now()
        invitation.save(update_fields=["seat_blocked_notified_at", "updated_at"])
        for recipient in sorted(recipients):
            message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [recipient])
            message.attach_alternative(html, "text/html")
            message.send()
    return len(recipients)


# --------------------------------------------------------------------------- accepting


def invitation_accept(*, token: str, user: User) -> Membership:
    """An existing user, logged in with the invited email, joins the practice."""
    try:
        return _invitation_accept(token=token, user=user)
    except PlanLimitReached:
        raise invitation_seat_limit_refusal(token=token) from None


@transaction.atomic
def _invitation_accept(*, token: str, user: User) -> Membership:
    invitation = invitation_lock_usable(token=token)
    if normalize_email(user.email) != invitation.email:
        raise email_mismatch_error(invited=invitation.email, current=user.email)
    # An active membership stays as it is; an ended one is reactivated with the invited role
    # (the owner's invitation lets the person back in): tenants.team.services.membership_create.
    membership = membership_create(
        user=user,
        practice=invitation.practice,
        role=invitation.role,
        joined_via=JoinedVia.INVITATION,
        actor=invitation.invited_by,
    )
    invitation_mark_accepted(invitation=invitation, user=user)
    logger.info("invitation %s accepted by existing user %s", invitation.pk, user.pk)
    return membership


# --------------------------------------------------------------------------- sending


def invitation_link(*, token: str, referral_code: str) -> str:
    """The link in the email, on the base domain (never built from a request's Host header)."""
    return public_url(f"/invitations/{token}/?ref={referral_code}")


def invitation_send(*, invitation_id: int) -> bool:
    """Mint a token and email the invitation, once per send request. Safe to run twice: the row
    lock and `sent_at >= send_requested_at` make a duplicate task a no-op. Returns True if sent.

    The email goes out while the row is locked: if sending fails, the transaction rolls back and
    the task retries; if the commit failed after a send, the beat task sends a fresh link."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("practice", "invited_by")
            .filter(pk=invitation_id)
            .first()
        )
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
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("%(name)s invited you to %(practice)s on DentalTap") % {
            "name": context["inviter_name"],
            "practice": context["practice_name"],
        }
        text = render_to_string("invitations/emails/invitation.txt", context)
        html = render_to_string("invitations/emails/invitation.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[invitation.email],
        reply_to=[inviter.email] if inviter else None,
        headers={"X-DentalTap-Invitation": str(invitation.pk)},
    )
    message.attach_alternative(html, "text/html")
    return message


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
