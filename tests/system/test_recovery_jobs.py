"""What the running stack must do on its own: the beat jobs that recover from a lost queue
message (a broker outage, a worker killed outright) and release rewards whose hold is over.

Each test makes the fault real (the Redis server process stops; the whole worker is SIGKILLed),
drives the stack over HTTP only and waits, bounded, for beat and the worker to do their part.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from billing import services
from billing.models import LedgerEntry, Payment, PracticeAccount, StripeEvent
from invitations.models import Invitation
from practice.models import Patient
from referrals.models import AccessRequest
from referrals.services import referral_code_get_or_create
from rewards import services as reward_services
from rewards.models import ReferralProgram, Reward, RewardStatus
from tenants.models import Practice, User
from tests.factories import DEFAULT_PASSWORD
from tests.stripe_helpers import invoice_paid
from tests.system.conftest import Referred
from tests.system.support import STALE_CREDIT_SECONDS, Browser, Stack, wait_until

pytestmark = [pytest.mark.system, pytest.mark.django_db(transaction=True)]

Pair = tuple[User, Practice]


@pytest.fixture
def no_hold() -> ReferralProgram:
    program = reward_services.program_current()
    program.rules.update(hold_days=0)
    return program


def assert_credited_once(stack: Stack, referred: Referred) -> Reward:
    reward = Reward.objects.get(referral=referred.referral)
    assert reward.status == RewardStatus.CREDITED
    assert list(LedgerEntry.objects.values_list("practice_id", "amount_cents")) == [
        (referred.referrer_practice.pk, 5000)
    ]
    customer = referred.referrer_customer()
    # One balance transaction at Stripe. A second attempt racing the first (the release job and
    # the payment both queue a due credit) may send the write again, always with the reward's
    # fixed key, which Stripe answers with the first result (or 409 while it is in flight).
    assert [item["amount"] for item in stack.stripe_balance_transactions(customer)] == [-5000]
    writes = stack.stripe_requests(f"/v1/customers/{customer}/balance_transactions", method="POST")
    assert writes and {write["idempotency_key"] for write in writes} == {f"dentaltap-reward-{reward.pk}-credit"}
    return reward


def login(stack: Stack, visitor: Browser, user: User) -> None:
    visitor.get(stack.url("/login/"))
    response = visitor.post(stack.url("/login/"), {"username": user.email, "password": DEFAULT_PASSWORD})
    assert response.status == 200 and "sessionid" in visitor.cookies, response.text[:500]


# --------------------------------------------------------------------------- the relay


@pytest.mark.parametrize("outage", ["stopped", "frozen"])
def test_an_event_accepted_while_redis_is_down_is_processed_by_the_relay_once_redis_is_back(
    stack: Stack, referred: Referred, no_hold: ReferralProgram, unique: str, outage: str
) -> None:
    """Redis stopped (the process exits) or frozen (SIGSTOP: connections hang until they time
    out) while Stripe delivers: the webhook still answers 200 and keeps the event."""
    stack.redis.outage(outage)
    event = invoice_paid(
        customer=referred.newcomer_customer, invoice_id=f"in_outage_{unique}", event_id=f"evt_outage_{unique}"
    )
    response = stack.post_webhook(event)
    assert response.status == 200, response.text  # stored: Stripe must not retry
    stored = StripeEvent.objects.get(stripe_event_id=event["id"])
    # Accepted, and its queue message never reached the broker: only the relay can help now.
    assert (stored.status, stored.attempts) == ("pending", 0)
    assert not Payment.objects.exists()

    stack.redis.recover(outage)
    wait_until(
        lambda: StripeEvent.objects.filter(pk=stored.pk, status="processed").exists(),
        message="the relay (through beat) to process the stored event",
        diagnostics=stack.diagnostics,
    )
    wait_until(
        lambda: Reward.objects.filter(referral=referred.referral, status=RewardStatus.CREDITED).exists(),
        message="the reward of the relayed payment to be credited",
        diagnostics=stack.diagnostics,
    )
    stack.wait_for_more_runs("billing.tasks.stripe_events_relay")
    assert StripeEvent.objects.count() == 1 and Payment.objects.count() == 1
    assert_credited_once(stack, referred)


# --------------------------------------------------------------------------- the worker itself


@pytest.mark.parametrize("outage", ["stopped", "frozen"])
def test_the_same_worker_consumes_again_after_a_redis_outage_that_caught_it_running_a_task(
    stack: Stack, referred: Referred, no_hold: ReferralProgram, unique: str, outage: str
) -> None:
    """Redis goes away while the worker runs a task it has not acknowledged yet (acks_late: a
    reward's credit, waiting on a slow Stripe). The worker process must live through it and
    consume again once Redis is back: with celery 5.7 / kombu 5.7 its consumer died instead
    ("Unrecoverable error: AttributeError: 'NoneType' object has no attribute 'hostname'" in
    kombu's `_connparams`, closing the lost connection a second time to give back the
    unacknowledged message) and the worker shut down, so no task ran until someone restarted it."""
    assert stack.worker is not None
    worker, starts = stack.worker, stack.worker_starts
    unrecoverable_before = stack.log_count(r"Unrecoverable error")
    customer: dict[str, Any] = stack.stripe("POST", "/v1/customers", {"name": "Referrer"})
    services.account_for(referred.referrer_practice)
    PracticeAccount.objects.filter(practice=referred.referrer_practice).update(stripe_customer_id=customer["id"])
    # Stripe answers the credit slowly: the task is still running when Redis goes away.
    stack.stripe_delay_next_write(seconds=6)

    event = invoice_paid(customer=referred.newcomer_customer, invoice_id=f"in_busy_{unique}")
    assert stack.post_webhook(event).status == 200
    wait_until(
        lambda: stack.stripe_requests(f"/v1/customers/{customer['id']}/balance_transactions", method="POST"),
        message="the credit task to be waiting on Stripe",
        diagnostics=stack.diagnostics,
    )
    # What the worker sees: a stopped server closes its connections at once; a frozen one answers
    # nothing, and the worker only finds out when the credit ends and its acknowledgement times out.
    felt = {"stopped": r"Connection to broker lost", "frozen": r"Couldn't ack"}[outage]
    felt_before = stack.log_count(felt)
    stack.redis.outage(outage)
    wait_until(
        lambda: stack.log_count(felt) > felt_before,
        message=f"the worker to feel the outage ({felt!r} in its log)",
        diagnostics=stack.diagnostics,
    )
    stack.redis.recover(outage)

    # Work that exists only after the outage: a second payment, paid now, must be processed.
    after = invoice_paid(customer=referred.newcomer_customer, invoice_id=f"in_after_{unique}")
    assert stack.post_webhook(after).status == 200
    wait_until(
        lambda: StripeEvent.objects.filter(stripe_event_id=after["id"], status="processed").exists(),
        message="the worker to process an event that arrived after the outage",
        diagnostics=stack.diagnostics,
    )
    wait_until(
        lambda: Reward.objects.filter(referral=referred.referral, status=RewardStatus.CREDITED).exists(),
        message="the credit that was running during the outage to finish",
        diagnostics=stack.diagnostics,
    )
    stack.wait_for_more_runs("billing.tasks.stripe_events_relay")
    # The same process did all of it: never restarted, never shut down.
    assert stack.worker is worker and stack.worker_starts == starts and worker.poll() is None
    assert stack.log_count(r"Unrecoverable error") == unrecoverable_before
    assert Payment.objects.count() == 2
    assert_credited_once(stack, referred)


# --------------------------------------------------------------------------- the release job


HOLD_LEFT_SECONDS = 6  # the reward is created inside its hold, which ends while the test watches


def test_a_reward_whose_hold_passes_is_released_and_credited_through_beat(
    stack: Stack, referred: Referred, unique: str
) -> None:
    program = reward_services.program_current()
    event = invoice_paid(customer=referred.newcomer_customer, invoice_id=f"in_hold_{unique}")
    # Paid (almost) a whole hold period ago: the hold ends a few seconds from now.
    hold_days = program.rules.order_by("pk").values_list("hold_days", flat=True).first() or 0
    paid_at = int(time.time()) - hold_days * 86400 + HOLD_LEFT_SECONDS
    event["data"]["object"]["status_transitions"]["paid_at"] = paid_at
    assert stack.post_webhook(event).status == 200

    reward = wait_until(
        lambda: Reward.objects.filter(referral=referred.referral).first(),
        message="the payment to create the reward",
        diagnostics=stack.diagnostics,
    )
    # Created inside its hold: nothing was queued for it, only the release job can credit it.
    assert reward.status == RewardStatus.PENDING and reward.created_at < reward.hold_until

    credited = wait_until(
        lambda: Reward.objects.filter(pk=reward.pk, status=RewardStatus.CREDITED).first(),
        message="beat's release job to credit the due reward",
        diagnostics=stack.diagnostics,
    )
    assert credited.credited_at is not None and credited.credited_at >= credited.hold_until
    stack.wait_for_more_runs("billing.tasks.rewards_release_due")
    assert_credited_once(stack, referred)


# --------------------------------------------------------------------------- invitations


def test_invitations_made_while_redis_is_down_are_sent_by_beat(
    stack: Stack, make_practice: Callable[..., Pair], visitor: Browser, unique: str
) -> None:
    owner, practice = make_practice(f"inviting-{unique}")
    login(stack, visitor, owner)
    addresses = [f"first-{unique}@example.com", f"second-{unique}@example.com"]
    stack.redis.stop()

    visitor.get(stack.url("/invitations/", practice.slug))
    response = visitor.post_json(stack.url("/api/invitations/", practice.slug), {"emails": addresses})
    assert response.status == 201, response.text
    assert sorted(Invitation.objects.filter(sent_at__isnull=True).values_list("email", flat=True)) == addresses
    assert all(address not in stack.sent_mail() for address in addresses)

    stack.redis.start()
    wait_until(
        lambda: all(f"To: {address}" in stack.sent_mail() for address in addresses),
        message="beat to send both invitations",
        diagnostics=stack.diagnostics,
    )
    stack.wait_for_more_runs("invitations.tasks.invitations_send_unsent")
    mail = stack.sent_mail()
    assert [mail.count(f"To: {address}") for address in addresses] == [1, 1]
    assert list(Invitation.objects.order_by("email").values_list("send_count", flat=True)) == [1, 1]
    assert f"http://dentaltap.localhost:{stack.web_port}/invitations/" in mail  # a link that works


def test_an_access_request_made_while_redis_is_down_reaches_the_team_through_beat(
    stack: Stack, make_practice: Callable[..., Pair], visitor: Browser, unique: str
) -> None:
    """A newcomer signs up from a referral link and asks to join the referrer's practice while the
    broker is away: the owner's email is owed, and beat's job sends it once Redis is back."""
    referrer, practice = make_practice(f"welcoming-{unique}", schema=False)
    code = referral_code_get_or_create(user=referrer).code
    stack.redis.stop()

    page = visitor.get(stack.url(f"/r/{code}/"))
    assert page.status == 200 and "request_access" in page.form(field="email").fields, page.text[:2000]
    signed_up = visitor.submit(
        page,
        page.form(field="email"),
        email=f"newcomer-{unique}@example.com",
        full_name="Dr. Newcomer",
        password=DEFAULT_PASSWORD,
        practice_name=f"Newcomer {unique}",
        practice_slug=f"newcomer-{unique}",
    )
    assert signed_up.status == 200, signed_up.text[:2000]
    request = AccessRequest.objects.get(practice=practice)
    assert request.notified_at is None and stack.mail_to(referrer.email) == ""

    stack.redis.start()
    wait_until(
        lambda: stack.mail_to(referrer.email),
        message="beat to tell the owner about the access request",
        diagnostics=stack.diagnostics,
    )
    stack.wait_for_more_runs("referrals.tasks.access_requests_notify_unsent")
    assert stack.mail_to(referrer.email).count(f"To: {referrer.email}") == 1
    assert f"/access-requests/{request.pk}/" in stack.mail_to(referrer.email)


def test_pages_and_writes_answer_while_redis_is_down(
    stack: Stack, make_practice: Callable[..., Pair], visitor: Browser, unique: str
) -> None:
    owner, practice = make_practice(f"offline-{unique}")
    login(stack, visitor, owner)
    visitor.get(stack.url("/", practice.slug))
    stack.redis.stop()

    created = visitor.post_json(stack.url("/api/patients/", practice.slug), {"first_name": "Ada", "last_name": "B"})
    assert created.status == 201, created.text
    assert visitor.get(stack.url("/patients/", practice.slug)).status == 200
    health = visitor.get(stack.url("/healthz")).json()
    assert health["status"] == "degraded" and health["broker"]["status"] == "error"
    with tenant_context(practice):
        assert list(Patient.objects.values_list("first_name", flat=True)) == ["Ada"]


# --------------------------------------------------------------------------- a killed worker


@pytest.mark.slow
def test_a_credit_lost_with_a_killed_worker_is_recovered_by_the_release_job(
    stack: Stack, referred: Referred, no_hold: ReferralProgram, unique: str
) -> None:
    """The whole worker (main process and pool) dies mid-credit. Its message stays unacknowledged
    in Redis for the visibility timeout (an hour); the release job re-queues the credit once it is
    in flight longer than REWARD_CREDITING_STALE_SECONDS, and the credit's check at Stripe (by
    metadata) finds the first attempt's balance transaction instead of writing a second one."""
    customer: dict[str, Any] = stack.stripe("POST", "/v1/customers", {"name": "Referrer"})
    services.account_for(referred.referrer_practice)
    PracticeAccount.objects.filter(practice=referred.referrer_practice).update(stripe_customer_id=customer["id"])
    stack.stripe_delay_next_write(seconds=STALE_CREDIT_SECONDS / 2)  # Stripe is slow: time to kill

    event = invoice_paid(customer=referred.newcomer_customer, invoice_id=f"in_kill_{unique}")
    assert stack.post_webhook(event).status == 200
    writes_path = f"/v1/customers/{customer['id']}/balance_transactions"
    wait_until(
        lambda: stack.stripe_requests(writes_path, method="POST"),
        message="the credit to reach Stripe",
        diagnostics=stack.diagnostics,
    )
    killed = stack.worker_kill()
    assert len(killed) >= 2  # the main process and its pool
    reward = Reward.objects.get(referral=referred.referral)
    assert reward.status == RewardStatus.CREDITING and reward.attempts >= 1
    attempts_before_the_kill = reward.attempts

    stack.worker_start()
    stack.wait_for_worker()
    wait_until(
        lambda: Reward.objects.filter(pk=reward.pk, status=RewardStatus.CREDITED).exists(),
        message="the release job to recover the lost credit",
        diagnostics=stack.diagnostics,
    )
    stack.wait_for_more_runs("billing.tasks.rewards_release_due")
    credited = assert_credited_once(stack, referred)
    assert credited.attempts > attempts_before_the_kill  # it really ran again, after the kill
