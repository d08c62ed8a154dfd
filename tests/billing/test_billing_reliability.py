"""Money under retries, races and outages: real threads, real transactions, a real worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from django.db import connection, connections
from django.test import Client

from billing import services
from billing.models import LedgerEntry, Payment, PracticeAccount, StripeEvent
from referrals.models import Referral
from rewards.models import Reward, RewardStatus
from tenants.models import Practice, User
from tests.billing_support import broker_idle, default_rule_set, wait_for
from tests.stripe_helpers import Standin, invoice_paid, signed

Pair = tuple[User, Practice]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def referred_committed(make_practice: Callable[..., Pair]) -> dict[str, Any]:
    referrer, referrer_practice = make_practice("referrer")
    newcomer, new_practice = make_practice("newcomer")
    Referral.objects.create(
        referrer=referrer, referred_user=newcomer, referred_practice=new_practice, source="link", eligibility="eligible"
    )
    services.account_for(new_practice)
    PracticeAccount.objects.filter(practice=new_practice).update(stripe_customer_id="cus_newcomer")
    default_rule_set(hold_days=0)
    return {"referrer_practice": referrer_practice}


def referrer_customer(info: dict[str, Any]) -> str | None:
    return (
        PracticeAccount.objects.filter(practice=info["referrer_practice"])
        .values_list("stripe_customer_id", flat=True)
        .first()
    )


@pytest.mark.django_db(transaction=True)
def test_the_same_event_fifty_times_in_parallel_credits_once(
    referred_committed: dict[str, Any], stripe_standin: Standin, celery_worker: object
) -> None:
    body, signature = signed(invoice_paid(customer="cus_newcomer", invoice_id="in_storm", event_id="evt_storm"))
    statuses: list[int] = []
    barrier = threading.Barrier(50)

    def deliver() -> None:
        try:
            barrier.wait()
            response = Client(HTTP_HOST="dentaltap.localhost").post(
                "/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
            )
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert statuses == [200] * 50
    assert wait_for(LedgerEntry.objects.exists), "the worker never credited the reward"
    assert wait_for(broker_idle), "queued work never finished"  # duplicates, had any been queued, ran
    assert StripeEvent.objects.count() == 1
    assert Payment.objects.count() == 1
    assert Reward.objects.get().status == RewardStatus.CREDITED
    assert LedgerEntry.objects.count() == 1
    customer = referrer_customer(referred_committed)
    assert [t["amount"] for t in stripe_standin.balance_transactions(customer or "")] == [-5000]
    assert len(stripe_standin.requests("balance_transactions")) == 1  # one Stripe call


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_killed_in_the_middle_of_a_credit_credits_exactly_once(
    referred_committed: dict[str, Any], stripe_standin: Standin
) -> None:
    """A real worker process (prefork, acks_late, reject on worker lost) is SIGKILLed while the
    credit waits on Stripe; the task runs again and the referrer is credited exactly once."""
    services.stripe_customer_ensure(practice=referred_committed["referrer_practice"])
    with stripe_standin.state.lock:  # Stripe will be slow on the next write: time to kill
        stripe_standin.state.delay_next, stripe_standin.state.delay_seconds = 1, 4.0

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dentaltap.settings.test",
        "DENTALTAP_DATABASE_NAME": connection.settings_dict["NAME"],
        "STRIPE_API_BASE": stripe_standin.url,
        "STRIPE_WEBHOOK_SECRETS": "whsec_test_current",
    }
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "dentaltap", "worker", "--pool=prefork", "--concurrency=1",
         "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        from dentaltap.celery import app

        app.control.purge()
        body, signature = signed(invoice_paid(customer="cus_newcomer", invoice_id="in_kill", event_id="evt_kill"))
        Client(HTTP_HOST="dentaltap.localhost").post(
            "/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
        )

        assert wait_for(lambda: len(stripe_standin.requests("balance_transactions")) >= 1, timeout=60), (
            "credit never reached Stripe"
        )
        children = psutil.Process(worker.pid).children()
        assert children, "no pool process to kill"
        for child in children:
            os.kill(child.pid, signal.SIGKILL)  # dies waiting for Stripe's answer

        assert wait_for(lambda: Reward.objects.filter(status=RewardStatus.CREDITED).exists(), timeout=90), (
            "not credited after the kill"
        )
        assert wait_for(broker_idle, timeout=60), "queued work never finished"
        assert LedgerEntry.objects.count() == 1
        customer = referrer_customer(referred_committed) or ""
        assert [t["amount"] for t in stripe_standin.balance_transactions(customer)] == [-5000]
        reward = Reward.objects.get()
        assert reward.attempts >= 2  # the credit really ran again after the kill
        calls = stripe_standin.requests("balance_transactions")
        writes = [call for call in calls if call["method"] == "POST"]
        assert {call["idempotency_key"] for call in writes} == {f"dentaltap-reward-{reward.pk}-credit"}
        # Exactly one write was applied at Stripe. Any other write of the run after the kill was
        # answered from the idempotency key: the first result replayed, or refused while the
        # first was still in flight.
        outcomes = [call["outcome"] for call in writes]
        assert outcomes.count("applied") == 1, outcomes
        assert set(outcomes) <= {"applied", "replayed", "in_flight"}, outcomes
        # The run after the kill asked Stripe before writing again (metadata lookup).
        assert [call["method"] for call in calls].count("GET") >= 1
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        output = worker.stdout.read().decode(errors="replace") if worker.stdout else ""
        print(output[-4000:])
