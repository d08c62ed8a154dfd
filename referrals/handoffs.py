"""What referrals hands to the layer above it (rewards), registered in its `AppConfig.ready()`
(dentaltap/handoffs.py): `referral_created`, sent inside `referral_record`'s transaction (signup
rules pay on it); `referral_reviewed`, sent inside `referral_review_decide`'s transaction
after staff approved or rejected a flagged referral; rewards releases or rejects the referral's
reward there, through its own review service (which logs the staff decision)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dentaltap.handoffs import Handoff

if TYPE_CHECKING:
    from tenants.models import User


@dataclass(frozen=True)
class ReferralReviewed:
    referral_id: int
    decision: str  # ReviewDecision.APPROVE or REJECT
    actor: User
    note: str


referral_reviewed: Handoff[ReferralReviewed] = Handoff("referrals.referral_reviewed")


@dataclass(frozen=True)
class ReferralCreated:
    referral_id: int


referral_created: Handoff[ReferralCreated] = Handoff("referrals.referral_created")
