"""Fixtures of the system tier: one running stack for the package's tests (started once, put
back in order before each test), and the data the tests arrange in the test database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

from billing import services
from billing.models import PracticeAccount
from referrals.models import Referral
from tenants.models import Practice, User
from tests.system.support import Browser, Stack

Pair = tuple[User, Practice]


@pytest.fixture(scope="package")
def system_stack(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Started after the test database exists and stopped before it is dropped (the stack's
    processes hold connections to it). Package scope: nothing of it runs beside other tests."""
    folder = Path(tmp_path_factory.mktemp("stack"))
    stack = Stack(folder, database_url=os.environ["DATABASE_URL"], database_name=connection.settings_dict["NAME"])
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def stack(system_stack: Stack, transactional_db: None) -> Iterator[Stack]:
    """The stack, with Redis up, a live worker and an empty queue. The test's rows are committed
    (the stack's processes must see them) and removed afterwards.

    A worker that exits during a test, unless the test killed it, fails that test: the next
    test's set-up starts a new worker, which would hide it (a worker that dies after a Redis
    outage is what stalls every task in production)."""
    system_stack.ensure_running()
    system_stack.purge_broker()
    worker, starts = system_stack.worker, system_stack.worker_starts
    yield system_stack
    if system_stack.worker_starts == starts:
        assert worker is not None and worker.poll() is None, (
            f"the worker exited during the test (exit code {worker.poll() if worker else None}):\n"
            + system_stack.diagnostics()
        )


@pytest.fixture
def visitor() -> Browser:
    """A browser-like HTTP client with its own cookies (tests/system/support.py)."""
    return Browser()


@pytest.fixture
def unique() -> str:
    """A suffix for slugs, emails and Stripe ids: the web processes cache hosts across tests."""
    return uuid.uuid4().hex[:8]


@dataclass
class Referred:
    referrer: User
    referrer_practice: Practice
    newcomer_practice: Practice
    newcomer_customer: str
    referral: Referral

    def referrer_customer(self) -> str:
        return (
            PracticeAccount.objects.filter(practice=self.referrer_practice)
            .values_list("stripe_customer_id", flat=True)
            .first()
        ) or ""


@pytest.fixture
def referred(make_practice: Callable[..., Pair], unique: str) -> Referred:
    """A referrer and the practice they brought (eligible), which pays through Stripe as
    customer `cus_new_<unique>`. Billing and referrals live in the public schema: the practices
    need no schema of their own."""
    referrer, referrer_practice = make_practice(f"referrer-{unique}", schema=False)
    newcomer, newcomer_practice = make_practice(f"newcomer-{unique}", schema=False)
    referral = Referral.objects.create(
        referrer=referrer,
        referred_user=newcomer,
        referred_practice=newcomer_practice,
        source="link",
        eligibility="eligible",
    )
    customer = f"cus_new_{unique}"
    services.account_for(newcomer_practice)
    PracticeAccount.objects.filter(practice=newcomer_practice).update(stripe_customer_id=customer)
    return Referred(referrer, referrer_practice, newcomer_practice, customer, referral)
