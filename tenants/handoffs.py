"""What tenants hands to the apps above it (billing today), through typed hand-offs that those
apps register in their `AppConfig.ready()` (dentaltap/handoffs.py):

- `practice_created`: a practice row was created (inside `practice_create`'s transaction); billing
  creates the practice's billing account there, so no read ever has to write one.
- `practitioner_seat`: a membership is about to count as a practitioner (owner or dentist);
  billing refuses when the plan's limit is reached (PlanLimitReached, a 403 with its message).
- `member_joined`: someone joined a practice or was let back in (inside `membership_create`'s
  transaction, after the audit entry); onboarding records "first colleague joined".
- `plan_reader`: what plan a practice is on, for `Practice.plan` / `Practice.plan_name` (reads
  only; freemium when billing is not installed or the account row is missing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dentaltap.handoffs import Handoff

if TYPE_CHECKING:
    from tenants.models import Membership, Practice


@dataclass(frozen=True)
class PracticeCreated:
    practice: Practice


@dataclass(frozen=True)
class PractitionerSeat:
    """`role` is the role the membership will have; the membership itself (when it exists
    already, say for a role change) is left out of the count."""

    practice: Practice
    role: str
    excluding_membership_id: int | None = None


@dataclass(frozen=True)
class MemberJoined:
    membership: Membership


practice_created: Handoff[PracticeCreated] = Handoff("tenants.practice_created")
member_joined: Handoff[MemberJoined] = Handoff("tenants.member_joined")
practitioner_seat: Handoff[PractitionerSeat] = Handoff("tenants.practitioner_seat")


def practitioner_limit_check(*, practice: Practice, role: str, excluding_membership_id: int | None = None) -> None:
    """Raise (billing's PlanLimitReached) when one more practitioner in `role` would exceed the
    practice's plan. Call inside the transaction that adds or changes the membership."""
    practitioner_seat.send(
        PractitionerSeat(practice=practice, role=role, excluding_membership_id=excluding_membership_id)
    )


@dataclass(frozen=True)
class PlanFacts:
    code: str
    name: str


FREEMIUM = PlanFacts(code="freemium", name="Freemium")
PlanReader = Callable[["Practice"], PlanFacts]
_plan_readers: list[PlanReader] = []


def plan_reader_register(reader: PlanReader) -> None:
    """Billing registers the one function that reads a practice's plan (a later one replaces it)."""
    _plan_readers[:] = [reader]


def practice_plan(practice: Practice) -> PlanFacts:
    return _plan_readers[0](practice) if _plan_readers else FREEMIUM
