"""Signed-webhook bodies for the benchmarks: Stripe's own `invoice.paid` shape."""

from __future__ import annotations

import json
import time
from functools import cache
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent


@cache
def _fixtures() -> dict[str, Any]:
    return json.loads((PROJECT_DIR / "tests" / "fixtures" / "stripe" / "objects.json").read_text())


def invoice_event(event_id: str, customer: str, invoice_id: str) -> str:
    fixtures = _fixtures()
    invoice = dict(
        fixtures["invoice"], id=invoice_id, customer=customer, amount_paid=4900, status="paid", livemode=False
    )
    invoice["status_transitions"] = {"paid_at": int(time.time())}
    envelope = dict(fixtures["event"], id=event_id, type="invoice.paid", created=int(time.time()), livemode=False)
    envelope["data"] = {"object": invoice}
    return json.dumps(envelope)
