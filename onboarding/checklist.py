"""The getting-started checklist on a practice's overview: a few steps, in order, each done
when its milestone is reached, each linking to the page that does it."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from onboarding.models import ChecklistPreference, MilestoneKey, PracticeMilestone
from tenants.access import Permission, membership_has_permission
from tenants.models import Membership, Practice, Role


@dataclass(frozen=True)
class StepDefinition:
    key: str
    title: Promise
    hint: Promise
    path: str
    permission: str


# Paths, not URL names: the pages belong to apps above this one (invitations), and practice
# templates link by path too.
STEPS: tuple[StepDefinition, ...] = (
    StepDefinition(
        MilestoneKey.FIRST_PATIENT,
        _("Add your first patient"),
        _("Patients are the heart of the workspace: add one, or several."),
        "/patients/new/",
        Permission.EDIT_PATIENTS,
    ),
    StepDefinition(
        MilestoneKey.FIRST_APPOINTMENT_BOOKED,
        _("Book an appointment"),
        _("Put a visit on the schedule."),
        "/appointments/new/",
        Permission.MANAGE_SCHEDULE,
    ),
    StepDefinition(
        MilestoneKey.FIRST_APPOINTMENT_COMPLETED,
        _("Mark a visit completed"),
        _("After the visit, set its status to Completed."),
        "/appointments/",
        Permission.MANAGE_SCHEDULE,
    ),
    StepDefinition(
        MilestoneKey.FIRST_COLLEAGUE_INVITED,
        _("Invite a colleague"),
        _("Colleagues join with the role you choose."),
        "/invitations/",
        Permission.INVITE_COLLEAGUES,
    ),
)


@dataclass(frozen=True)
class ChecklistStep:
    key: str
    title: str
    hint: str
    path: str
    is_done: bool
    can_act: bool


@dataclass(frozen=True)
class Checklist:
    steps: tuple[ChecklistStep, ...]
    can_hide: bool

    @property
    def done_count(self) -> int:
        return sum(step.is_done for step in self.steps)

    @property
    def total(self) -> int:
        return len(self.steps)

    @property
    def percent(self) -> int:
        return round(100 * self.done_count / self.total) if self.total else 100

    @property
    def next_step(self) -> ChecklistStep | None:
        return next((step for step in self.steps if not step.is_done), None)


def checklist_for(*, practice: Practice, membership: Membership | None) -> Checklist | None:
    """The checklist to show this member, or None: the practice is activated, the owner hid it,
    every step is done, or the member can act on none of the steps left."""
    if membership is None:
        return None
    reached = set(PracticeMilestone.objects.filter(practice=practice).values_list("key", flat=True))
    if MilestoneKey.ACTIVATED in reached:
        return None
    if ChecklistPreference.objects.filter(practice=practice, hidden_at__isnull=False).exists():
        return None
    steps = tuple(
        ChecklistStep(
            key=step.key,
            title=str(step.title),
            hint=str(step.hint),
            path=step.path,
            is_done=step.key in reached,
            can_act=membership_has_permission(membership, step.permission),
        )
        for step in STEPS
    )
    if not any(step.can_act and not step.is_done for step in steps):
        return None
    return Checklist(steps=steps, can_hide=membership.role == Role.OWNER)
