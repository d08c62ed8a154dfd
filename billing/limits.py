"""Plan limits, checked where the limited thing is created, with a message that says how to
get past them. Counted under a lock so two concurrent creations cannot both squeeze in."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from billing.models import Plan
from billing.services.accounts import account_for
from dentaltap.errors import ApplicationError
from dentaltap.locks import advisory_lock
from dentaltap.translated import translated
from practice.handoffs import PatientAdding
from practice.models import Patient
from tenants.handoffs import PractitionerSeat
from tenants.models import Membership, MembershipStatus, Practice, Role

PRACTITIONER_ROLES = frozenset({Role.OWNER, Role.DENTIST})


class PlanLimitReached(ApplicationError):
    code = "plan_limit_reached"
    status_code = 403


def patient_limit_check(*, practice: Practice) -> None:
    """Call inside the practice's schema, in the transaction that adds the patient."""
    plan = account_for(practice).plan
    if plan.max_patients is None:
        return
    advisory_lock(f"plan-limit:patients:{practice.pk}")
    if Patient.objects.count() >= plan.max_patients:
        raise PlanLimitReached(
            _("The %(plan)s plan holds up to %(limit)s patients. Upgrade on the Billing page to add more.")
            % {"plan": translated(plan), "limit": plan.max_patients}
        )


def _practitioners(practice: Practice, excluding_membership_id: int | None = None) -> int:
    practitioners = Membership.objects.filter(
        practice=practice, role__in=PRACTITIONER_ROLES, status=MembershipStatus.ACTIVE
    )
    if excluding_membership_id is not None:
        practitioners = practitioners.exclude(pk=excluding_membership_id)
    return practitioners.count()


@dataclass(frozen=True)
class Seats:
    """Practitioner seats (owners and dentists) on a practice's plan."""

    plan: Plan
    limit: int
    used: int

    @property
    def plan_name(self) -> str:
        """The plan's name in the active language."""
        return translated(self.plan)

    @property
    def left(self) -> int:
        return max(self.limit - self.used, 0)


def practitioner_seats(*, practice: Practice) -> Seats | None:
    """The practice's practitioner seats now, or None when its plan has no limit. For pages that
    warn before the limit bites (the check itself is practitioner_limit_check, under a lock)."""
    plan = account_for(practice).plan
    if plan.max_practitioners is None:
        return None
    return Seats(plan=plan, limit=plan.max_practitioners, used=_practitioners(practice))


def is_practitioner_role(role: str) -> bool:
    return role in PRACTITIONER_ROLES


def practitioner_limit_check(*, practice: Practice, role: str, excluding_membership_id: int | None = None) -> None:
    """Owners and dentists count as practitioners; assistants, receptionists and guests do not."""
    if role not in PRACTITIONER_ROLES:
        return
    plan = account_for(practice).plan
    if plan.max_practitioners is None:
        return
    advisory_lock(f"plan-limit:practitioners:{practice.pk}")
    if _practitioners(practice, excluding_membership_id) >= plan.max_practitioners:
        raise PlanLimitReached(
            _(
                "The %(plan)s plan allows %(limit)s practitioners (owners and dentists). Upgrade on the "
                "Billing page, or give this person another role."
            )
            % {"plan": translated(plan), "limit": plan.max_practitioners}
        )


# Receivers of the tenants and practice hand-offs (registered in billing.apps).


def on_practitioner_seat(seat: PractitionerSeat) -> None:
    practitioner_limit_check(
        practice=seat.practice, role=seat.role, excluding_membership_id=seat.excluding_membership_id
    )


def on_patient_adding(event: PatientAdding) -> None:
    patient_limit_check(practice=event.practice)
