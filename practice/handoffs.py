"""What the practice app hands to the apps above it (billing), registered in their
`AppConfig.ready()` (dentaltap/handoffs.py): `patient_adding`, sent inside the practice's schema
in the transaction that adds a patient; billing refuses when the plan's patient limit is reached
(PlanLimitReached, a 403 with its message)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dentaltap.handoffs import Handoff

if TYPE_CHECKING:
    from tenants.models import Practice


@dataclass(frozen=True)
class PatientAdding:
    practice: Practice


patient_adding: Handoff[PatientAdding] = Handoff("practice.patient_adding")


def patient_limit_check(*, practice: Practice) -> None:
    patient_adding.send(PatientAdding(practice=practice))
