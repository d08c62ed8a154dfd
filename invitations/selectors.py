from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Value, When

from invitations.models import Invitation, InvitationStatus
from tenants.models import Practice


def invitations_for_practice(*, practice: Practice) -> QuerySet[Invitation]:
    """The practice's invitations, pending ones first, newest first within each group."""
    return (
        Invitation.objects.filter(practice=practice)
        .select_related("invited_by", "accepted_by")
        .annotate(
            pending_first=Case(
                When(status=InvitationStatus.PENDING, then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        )
        .order_by("pending_first", "-created_at")
    )


def invitations_seat_blocked(*, practice: Practice) -> list[Invitation]:
    """Pending invitations whose invitee tried to join and met the plan's seat limit: the
    in-app notice beside the email the inviter got."""
    return list(
        Invitation.objects.filter(
            practice=practice, status=InvitationStatus.PENDING, seat_blocked_at__isnull=False
        ).order_by("-seat_blocked_at")[:20]
    )
