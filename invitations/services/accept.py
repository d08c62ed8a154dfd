"""Accepting an invitation: the membership it grants, refused when the plan has no seat."""

from __future__ import annotations

import logging

from django.db import transaction

from billing.limits import PlanLimitReached
from invitations.services.link import email_mismatch_error, invitation_lock_usable, invitation_mark_accepted
from invitations.services.seats import invitation_seat_limit_refusal
from tenants.models import JoinedVia, Membership, User, normalize_email
from tenants.team.services import membership_create

logger = logging.getLogger(__name__)


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
