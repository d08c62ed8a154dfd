"""What every operation shares: who does it (a staff member, or a command) and its log row."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from dentaltap.errors import ApplicationError
from offboarding.models import OperationKind, PracticeOperation
from tenants.models import Practice, User

logger = logging.getLogger("offboarding")


@dataclass(frozen=True)
class Actor:
    """A staff member (pages) or a command (`user` None, `label` naming it)."""

    user: User | None
    label: str

    @classmethod
    def staff(cls, user: User) -> Actor:
        if not (user.is_active and user.is_staff):
            raise ApplicationError(_("Only DentalTap staff may do this."), code="staff_only", status_code=403)
        return cls(user=user, label=user.email)


def reason_clean(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if len(reason) < 5:
        raise ApplicationError(
            _("Say why (at least 5 characters): the reason is kept in the log."),
            code="reason_required",
            fields={"reason": [_("A reason is required.")]},
        )
    return reason[:500]


def operation_log(
    *,
    kind: OperationKind,
    practice: Practice | None,
    practice_slug: str,
    actor: Actor,
    reason: str,
    **fields: Any,
) -> PracticeOperation:
    operation = PracticeOperation.objects.create(
        kind=kind,
        practice=practice,
        practice_slug=practice_slug,
        actor=actor.user,
        actor_label=actor.label[:200],
        reason=reason,
        **fields,
    )
    # Ids and the address only: never the reason's free text or anything from the practice's data.
    logger.info(
        "practice %s: %s (practice %s) by %s, operation %s",
        kind,
        practice_slug,
        practice.pk if practice else None,
        f"user {actor.user.pk}" if actor.user else actor.label,
        operation.pk,
    )
    return operation
