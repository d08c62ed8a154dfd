"""Partners and code batches for the partner-code tests, made through the admin's service."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from referrals import partners
from referrals.models import Partner, PartnerCodeBatch, PartnerCodeKind
from tests.factories import UserFactory


def a_partner(name: str = "Molar Supplies") -> Partner:
    return Partner.objects.create(
        name=name, account=UserFactory(email=f"{name.split(maxsplit=1)[0].lower()}@partner.example")
    )


def a_batch(partner: Partner, *, shared_code: str = "", **fields: Any) -> PartnerCodeBatch:
    values: dict[str, Any] = {
        "label": "Dental fair",
        "kind": PartnerCodeKind.SHARED,
        "size": 1,
        "trial_days": 60,
        "expires_at": timezone.now() + datetime.timedelta(days=90),
        **fields,
    }
    batch = PartnerCodeBatch(partner=partner, **values)
    batch.full_clean()
    return partners.partner_batch_create(batch=batch, shared_code=shared_code)
