"""The invitation link: is the token usable (and why not), lock it, mark it accepted."""

from __future__ import annotations

import logging

from django.utils import timezone
from django.utils.translation import gettext as _

from dentaltap.errors import ApplicationError
from invitations import tokens
from invitations.models import Invitation, InvitationStatus
from invitations.roles import grantable_roles
from tenants.access import membership_get_active
from tenants.models import User

logger = logging.getLogger(__name__)


class InvitationLinkError(ApplicationError):
    """A token that cannot be used: its code says why (and the page says what to do)."""

    status_code: int = 410


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
