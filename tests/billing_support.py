"""Billing test helpers: posting signed events to the webhook, processing the inbox, and the
referred-practice fixtures (registered for every module in tests/conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from billing import services
from billing.models import PracticeAccount, StripeEvent
from referrals.models import Eligibility, Referral
from rewards.models import ReferralProgram, RewardRule
from rewards.services import program_current
from tenants.models import Practice, User
from tests.stripe_helpers import signed

Pair = tuple[User, Practice]
WEBHOOK = "/stripe/webhook/"


def post_event(
    payload: Any, *, secret: str | None = None, signature: str | None = None, timestamp: int | None = None
) -> Any:
    body, header = signed(payload, **({"secret": secret} if secret else {}), timestamp=timestamp)
    headers = {"HTTP_STRIPE_SIGNATURE": signature if signature is not None else header}
    return Client(HTTP_HOST="dentaltap.localhost").post(WEBHOOK, body, content_type="application/json", **headers)


def process_all() -> list[str]:
    return [
        services.stripe_event_process(event_pk=pk)
        for pk in StripeEvent.objects.order_by("pk").values_list("pk", flat=True)
    ]


@pytest.fixture
def referred(make_practice: Callable[..., Pair]) -> dict[str, Any]:
    """A referrer with their own practice, and a practice they referred, known to Stripe."""
    referrer, referrer_practice = make_practice("referrer")
    newcomer, new_practice = make_practice("newcomer")
    referral = Referral.objects.create(
        referrer=referrer,
        referred_user=newcomer,
        referred_practice=new_practice,
        source="link",
        eligibility=Eligibility.ELIGIBLE,
    )
    services.account_for(new_practice)
    PracticeAccount.objects.filter(practice=new_practice).update(stripe_customer_id="cus_newcomer")
    return {
        "referrer": referrer,
        "referrer_practice": referrer_practice,
        "practice": new_practice,
        "referral": referral,
    }


def default_rule() -> RewardRule:
    """The default program's first rule: the house $50 to the referrer after the first payment."""
    return program_current().rules.order_by("pk").first()  # type: ignore[return-value]


def default_rule_set(**changes: Any) -> RewardRule:
    rule = default_rule()
    RewardRule.objects.filter(pk=rule.pk).update(**changes)
    rule.refresh_from_db()
    return rule


@pytest.fixture
def no_hold() -> ReferralProgram:
    default_rule_set(hold_days=0)
    return program_current()


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def broker_idle() -> bool:
    """No task waiting in the broker and none taken by a worker but not yet finished (tasks are
    acknowledged late, after they ran): whatever was queued, duplicates included, has run."""
    from dentaltap.celery import app

    with app.connection_for_write() as broker:
        client = broker.default_channel.client
        waiting = sum(client.llen(key) for key in client.keys("celery*"))
        return waiting == 0 and client.hlen("unacked") == 0
