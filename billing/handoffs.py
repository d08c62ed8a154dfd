"""What billing hands to the layer above it (rewards), and the one thing it asks of it.

Billing never imports an upper app. It sends these typed events through `dentaltap.handoffs`
hand-offs, which `rewards` registers into in its `AppConfig.ready()`:

- `payment_recorded`: a paid invoice became a `Payment` row (once per invoice);
- `payment_reversed`: a payment no longer qualifies (disputed, or refunded by half or more);
- `payment_refunded`: more of a payment was refunded or disputed (any amount: percentage rewards
  shrink in proportion);
- `cards_recorded`: a practice paid with cards billing had not seen for it before.

They are sent inside the event-processing transaction (a savepoint per event), so what a
receiver writes commits or rolls back with the payment; what it returns is kept as the inbox
note. With nothing registered billing works alone: the payment is recorded, nothing else.

`reward_lines_reader` is the other direction: the Billing page and API show the practice's
referral rewards; rewards registers the function that lists them (none registered: none shown).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dentaltap.handoffs import Handoff

if TYPE_CHECKING:
    from tenants.models import Practice


@dataclass(frozen=True)
class PaymentRecorded:
    payment_id: int
    practice_id: int
    amount_cents: int
    currency: str
    paid_at: datetime.datetime
    is_reversed: bool  # refunded or disputed before the invoice's own event arrived
    refunded_cents: int = 0  # refunded before the invoice's own event arrived


@dataclass(frozen=True)
class PaymentReversed:
    payment_id: int
    practice_id: int
    reason: str  # for staff, in the reward's log; customers see a reason built from the status


@dataclass(frozen=True)
class PaymentRefunded:
    payment_id: int
    practice_id: int
    refunded_cents: int  # the running total refunded or disputed of this payment


@dataclass(frozen=True)
class CardsRecorded:
    practice_id: int
    new_cards: int


payment_recorded: Handoff[PaymentRecorded] = Handoff("billing.payment_recorded")
payment_reversed: Handoff[PaymentReversed] = Handoff("billing.payment_reversed")
payment_refunded: Handoff[PaymentRefunded] = Handoff("billing.payment_refunded")
cards_recorded: Handoff[CardsRecorded] = Handoff("billing.cards_recorded")


@dataclass(frozen=True)
class RewardLine:
    """A referral reward as the practice that earns it sees it on its Billing page: no staff
    notes, no fraud signals, no Stripe errors (`reason` is built from the status)."""

    id: int
    created_at: datetime.datetime
    referred_name: str
    amount_cents: int
    currency: str
    status: str
    status_label: str
    reason: str
    hold_until: datetime.datetime
    credited_at: datetime.datetime | None
    value_label: str = ""  # what it is worth in words ("$50.00", "300 points"); empty: the amount
    received: bool = False  # the practice received it for being referred (the two-sided half)


RewardLinesReader = Callable[["Practice", int], list[RewardLine]]
_reward_lines_readers: list[RewardLinesReader] = []


def reward_lines_reader_register(reader: RewardLinesReader) -> None:
    _reward_lines_readers[:] = [reader]


def reward_lines(*, practice: Practice, limit: int) -> list[RewardLine]:
    return _reward_lines_readers[0](practice, limit) if _reward_lines_readers else []
