"""Billing: the Stripe webhook, event processing keyed on Stripe objects, rewards, the ledger.
Stripe is the local stand-in reached over HTTP by the real SDK; events are Stripe-shaped and
signed with the SDK's helper."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing import services
from billing.models import LedgerEntry, LedgerKind, Payment, PracticeAccount, StripeEvent, StripeEventStatus
from referrals.models import Eligibility, EligibilityReason, Referral
from rewards import crediting
from rewards import services as reward_services
from rewards.models import Reward, RewardStatus
from tenants.models import Practice, User
from tests.billing_support import WEBHOOK, default_rule_set, post_event, process_all
from tests.stripe_helpers import (
    OLD_SECRET,
    Standin,
    charge_refunded,
    dispute_created,
    event,
    invoice_paid,
    stripe_object,
)

pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only("referrer", "newcomer", "second-newcomer")]
Pair = tuple[User, Practice]


# --------------------------------------------------------------------------- the webhook


def test_webhook_stores_a_verified_event_once_and_duplicates_change_nothing(public_tenant: Practice) -> None:
    payload = invoice_paid(customer="cus_x", invoice_id="in_1", event_id="evt_once")
    first = post_event(payload)
    second = post_event(payload)
    assert first.status_code == 200 and first.json() == {"received": True, "duplicate": False}
    assert second.status_code == 200 and second.json() == {"received": True, "duplicate": True}
    stored = StripeEvent.objects.get()
    assert (stored.stripe_event_id, stored.type, stored.object_id, stored.status) == (
        "evt_once",
        "invoice.paid",
        "in_1",
        "pending",
    )


@pytest.mark.parametrize(
    ("case", "expected_code"),
    [
        ("forged", "bad_signature"),
        ("missing", "missing_signature"),
        ("stale", "bad_signature"),
        ("other_secret", "bad_signature"),
    ],
)
def test_webhook_refuses_bad_signatures_and_stores_nothing(
    public_tenant: Practice, case: str, expected_code: str
) -> None:
    payload = invoice_paid(customer="cus_x", invoice_id="in_1")
    if case == "forged":
        response = post_event(payload, signature="t=1,v1=deadbeef")
    elif case == "missing":
        response = Client(HTTP_HOST="dentaltap.localhost").post(
            WEBHOOK, json.dumps(payload), content_type="application/json"
        )
    elif case == "stale":
        response = post_event(payload, timestamp=int(time.time()) - 3600)
    else:
        response = post_event(payload, secret="whsec_someone_else")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == expected_code
    assert not StripeEvent.objects.exists()


def test_webhook_accepts_the_previous_secret_during_rotation(public_tenant: Practice, stripe_standin: Standin) -> None:
    response = post_event(invoice_paid(customer="cus_x", invoice_id="in_rot"), secret=OLD_SECRET)
    assert response.status_code == 200 and StripeEvent.objects.count() == 1


def test_webhook_malformed_json_with_a_valid_signature_is_a_400(public_tenant: Practice) -> None:
    for body in ("{not json", json.dumps([1, 2])):
        response = post_event(body)
        assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_payload", body
    response = post_event(json.dumps({"id": "evt_1"}))
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_event"
    assert response.json()["error"]["fields"] == {"type": ["missing."]}
    assert not StripeEvent.objects.exists()


def test_unknown_event_type_is_stored_and_ignored(public_tenant: Practice) -> None:
    assert post_event(event("product.created", stripe_object("product"))).status_code == 200
    assert process_all() == ["ignored"]
    assert StripeEvent.objects.get().note == "event type not handled"


def test_event_for_an_unknown_customer_is_ignored_with_nothing_half_done(public_tenant: Practice) -> None:
    post_event(invoice_paid(customer="cus_nobody", invoice_id="in_stranger"))
    assert process_all() == ["ignored"]
    assert "unknown customer" in StripeEvent.objects.get().note
    assert not Payment.objects.exists() and not Reward.objects.exists()


def test_livemode_mismatch_is_ignored(referred: dict[str, Any]) -> None:
    payload = invoice_paid(customer="cus_newcomer", invoice_id="in_live")
    payload["livemode"] = True
    post_event(payload)
    assert process_all() == ["ignored"] and not Payment.objects.exists()


# --------------------------------------------------------------------------- qualification


def test_first_paid_invoice_qualifies_the_referral_once(referred: dict[str, Any]) -> None:
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first"))
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_second"))
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first", event_type="invoice.payment_succeeded"))
    assert process_all() == ["processed"] * 3

    reward = Reward.objects.get()
    assert (reward.referrer, reward.beneficiary_practice) == (referred["referrer"], referred["referrer_practice"])
    assert (reward.amount_cents, reward.currency, reward.status) == (5000, "usd", RewardStatus.PENDING)
    assert reward.qualifying_payment.stripe_invoice_id == "in_first"
    assert reward.hold_until > timezone.now() + datetime.timedelta(days=13)
    assert Payment.objects.count() == 2  # the duplicate report of in_first added nothing


def test_zero_amount_invoice_does_not_qualify(referred: dict[str, Any]) -> None:
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_trial", amount=0))
    process_all()
    assert not Reward.objects.exists()


def test_ineligible_referral_earns_nothing_and_review_is_held(referred: dict[str, Any]) -> None:
    referral = referred["referral"]
    Referral.objects.filter(pk=referral.pk).update(
        eligibility=Eligibility.INELIGIBLE, eligibility_reason=EligibilityReason.SELF_REFERRAL
    )
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_a"))
    process_all()
    assert not Reward.objects.exists()
    assert "not eligible" in StripeEvent.objects.get().note

    Referral.objects.filter(pk=referral.pk).update(
        eligibility=Eligibility.REVIEW, eligibility_reason=EligibilityReason.DISPOSABLE_EMAIL
    )
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_b"))
    process_all()
    reward = Reward.objects.get()
    assert reward.status == RewardStatus.ON_HOLD and "Disposable" in reward.reason


# --------------------------------------------------------------------------- credit and ledger


def test_credit_after_the_hold_lowers_the_referrers_next_invoice_exactly_once(
    referred: dict[str, Any], stripe_standin: Standin
) -> None:
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first"))
    process_all()
    reward = Reward.objects.get()
    assert crediting.reward_credit(reward_pk=reward.pk) == "not due"

    Reward.objects.filter(pk=reward.pk).update(hold_until=timezone.now() - datetime.timedelta(seconds=1))
    assert crediting.reward_credit(reward_pk=reward.pk) == RewardStatus.CREDITED
    assert crediting.reward_credit(reward_pk=reward.pk) == RewardStatus.CREDITED  # a second run: nothing more

    reward.refresh_from_db()
    customer = PracticeAccount.objects.get(practice=referred["referrer_practice"]).stripe_customer_id
    transactions = stripe_standin.balance_transactions(customer)
    assert [t["amount"] for t in transactions] == [-5000]
    assert stripe_standin.state.customers[customer]["balance"] == -5000
    calls = stripe_standin.requests("balance_transactions")
    assert [c["idempotency_key"] for c in calls] == [f"dentaltap-reward-{reward.pk}-credit"]
    entry = LedgerEntry.objects.get()
    assert (entry.kind, entry.amount_cents, entry.practice) == (
        LedgerKind.REWARD_CREDIT,
        5000,
        referred["referrer_practice"],
    )
    assert entry.stripe_balance_transaction_id == reward.stripe_balance_transaction_id == transactions[0]["id"]
    assert services.credit_balance_cents(practice=referred["referrer_practice"]) == 5000


def test_a_second_ledger_credit_for_one_reward_is_impossible_in_the_database(
    referred: dict[str, Any], no_hold: Any, stripe_standin: Standin
) -> None:
    from django.db import IntegrityError, transaction

    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first"))
    process_all()
    reward = Reward.objects.get()
    crediting.reward_credit(reward_pk=reward.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            practice=reward.beneficiary_practice,
            reward=reward,
            kind=LedgerKind.REWARD_CREDIT,
            amount_cents=5000,
            currency="usd",
            description="again",
        )
    with pytest.raises(RuntimeError, match="append-only"):
        entry = LedgerEntry.objects.get()
        entry.amount_cents = 1
        entry.save()


def test_refund_inside_the_hold_cancels_the_reward(referred: dict[str, Any], stripe_standin: Standin) -> None:
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first", charge="ch_first"))
    post_event(charge_refunded(charge="ch_first", customer="cus_newcomer"))
    process_all()
    reward = Reward.objects.get()
    assert reward.status == RewardStatus.CANCELLED and "refunded" in reward.reason
    Reward.objects.filter(pk=reward.pk).update(hold_until=timezone.now())
    assert crediting.reward_credit(reward_pk=reward.pk) == RewardStatus.CANCELLED
    assert not LedgerEntry.objects.exists() and stripe_standin.requests("balance_transactions") == []


def test_refund_arriving_before_the_payment_still_cancels(referred: dict[str, Any]) -> None:
    post_event(charge_refunded(charge="ch_early", customer="cus_newcomer"))
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_late", charge="ch_early"))
    process_all()
    assert Reward.objects.get().status == RewardStatus.CANCELLED


def test_dispute_after_the_credit_claws_it_back_with_a_reversing_entry(
    referred: dict[str, Any], no_hold: Any, stripe_standin: Standin
) -> None:
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first", charge="ch_first"))
    process_all()
    reward = Reward.objects.get()
    crediting.reward_credit(reward_pk=reward.pk)

    post_event(dispute_created(charge="ch_first", dispute_id="dp_1"))
    post_event(dispute_created(charge="ch_first", dispute_id="dp_1"))  # duplicate delivery
    process_all()
    assert crediting.reward_clawback(reward_pk=reward.pk) == RewardStatus.CLAWED_BACK
    assert crediting.reward_clawback(reward_pk=reward.pk) == RewardStatus.CLAWED_BACK

    entries = list(LedgerEntry.objects.order_by("pk").values_list("kind", "amount_cents"))
    assert entries == [(LedgerKind.REWARD_CREDIT, 5000), (LedgerKind.REWARD_CLAWBACK, -5000)]
    customer = PracticeAccount.objects.get(practice=referred["referrer_practice"]).stripe_customer_id
    assert [t["amount"] for t in stripe_standin.balance_transactions(customer)] == [-5000, 5000]
    assert services.credit_balance_cents(practice=referred["referrer_practice"]) == 0


def test_yearly_cap_per_referrer(referred: dict[str, Any], make_practice: Callable[..., Pair]) -> None:
    default_rule_set(cap_count=1)
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_a"))
    other_user, other_practice = make_practice("second-newcomer")
    Referral.objects.create(
        referrer=referred["referrer"],
        referred_user=other_user,
        referred_practice=other_practice,
        source="link",
        eligibility="eligible",
    )
    services.account_for(other_practice)
    PracticeAccount.objects.filter(practice=other_practice).update(stripe_customer_id="cus_second")
    post_event(invoice_paid(customer="cus_second", invoice_id="in_b"))
    process_all()
    statuses = list(Reward.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == [RewardStatus.PENDING, RewardStatus.CANCELLED]
    assert "limit" in Reward.objects.order_by("pk").last().reason.lower()  # type: ignore[union-attr]


def test_stripe_errors_before_anything_is_applied_are_retried_by_the_sdk(
    referred: dict[str, Any], no_hold: Any, stripe_standin: Standin
) -> None:
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first"))
    process_all()
    reward = Reward.objects.get()
    customer = services.stripe_customer_ensure(practice=referred["referrer_practice"])
    stripe_standin.fail_next(2, status=500)  # the SDK retries with the same idempotency key
    assert crediting.reward_credit(reward_pk=reward.pk) == RewardStatus.CREDITED
    assert [t["amount"] for t in stripe_standin.balance_transactions(customer)] == [-5000]
    writes = stripe_standin.writes("balance_transactions")
    assert [write["outcome"] for write in writes] == ["failed", "failed", "applied"]
    assert {write["idempotency_key"] for write in writes} == {f"dentaltap-reward-{reward.pk}-credit"}
    assert LedgerEntry.objects.count() == 1


def assert_credited_once(reward: Reward, customer: str, stripe_standin: Standin) -> None:
    """One balance transaction at Stripe, one ledger entry, and both name the same transaction."""
    transactions = stripe_standin.balance_transactions(customer)
    assert [t["amount"] for t in transactions] == [-5000]
    assert stripe_standin.state.customers[customer]["balance"] == -5000
    reward.refresh_from_db()
    assert (reward.status, reward.stripe_balance_transaction_id) == (RewardStatus.CREDITED, transactions[0]["id"])
    assert list(LedgerEntry.objects.values_list("amount_cents", "stripe_balance_transaction_id")) == [
        (5000, transactions[0]["id"])
    ]


@pytest.mark.parametrize("drop", [False, True], ids=["500-after-applying", "connection-dropped-after-applying"])
def test_a_credit_applied_at_stripe_whose_answer_is_lost_is_not_applied_again_by_the_sdk_retry(
    referred: dict[str, Any], no_hold: Any, stripe_standin: Standin, drop: bool
) -> None:
    """The case that matters: Stripe applied the credit, the answer never arrived. The SDK
    retries with the same idempotency key and gets the first result back: one transaction."""
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first"))
    process_all()
    reward = Reward.objects.get()
    customer = services.stripe_customer_ensure(practice=referred["referrer_practice"])
    stripe_standin.lose_next_responses(1, drop=drop)

    assert crediting.reward_credit(reward_pk=reward.pk) == RewardStatus.CREDITED

    writes = stripe_standin.writes("balance_transactions")
    assert [(write["outcome"], write.get("response_lost", False)) for write in writes] == [
        ("applied", True),
        ("replayed", False),
    ]
    assert {write["idempotency_key"] for write in writes} == {f"dentaltap-reward-{reward.pk}-credit"}
    assert_credited_once(reward, customer, stripe_standin)
    assert reward.attempts == 1  # one run of the credit: the SDK's own retry did it


def test_when_every_sdk_retry_loses_its_answer_the_task_retry_finds_the_first_credit(
    referred: dict[str, Any], no_hold: Any, stripe_standin: Standin
) -> None:
    """All three tries of the SDK (one and two retries) lose their answer: the task gives up for
    now and retries; the second run asks Stripe first and finds the credit by its metadata."""
    from rewards.tasks import reward_credit

    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first"))
    process_all()
    reward = Reward.objects.get()
    customer = services.stripe_customer_ensure(practice=referred["referrer_practice"])
    stripe_standin.lose_next_responses(3)

    assert reward_credit.apply(args=[reward.pk]).get() == RewardStatus.CREDITED

    calls = stripe_standin.requests("balance_transactions")
    assert [(call["method"], call["outcome"], call.get("response_lost", False)) for call in calls] == [
        ("POST", "applied", True),
        ("POST", "replayed", True),
        ("POST", "replayed", True),
        ("GET", "read", False),  # the task's retry: found, so no further write
    ]
    assert_credited_once(reward, customer, stripe_standin)
    assert reward.attempts == 2


def test_a_credit_that_keeps_failing_ends_visible_and_staff_can_retry(
    referred: dict[str, Any], no_hold: Any, stripe_standin: Standin
) -> None:
    from rewards.tasks import CREDIT_MAX_RETRIES, reward_credit

    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first"))
    process_all()
    reward = Reward.objects.get()
    stripe_standin.fail_next(100, status=503)
    # The task's last allowed retry: Stripe still fails, so the reward is marked failed.
    result = reward_credit.apply(args=[reward.pk], retries=CREDIT_MAX_RETRIES)
    assert result.get() == "failed"
    reward.refresh_from_db()
    assert reward.status == RewardStatus.FAILED and "gave up" in reward.last_error
    assert not LedgerEntry.objects.exists()

    stripe_standin.fail_next(0)
    staff = User.objects.create_superuser("staff@dentaltap.example", "x-Strong-pass-99", full_name="Staff")
    reward_services.reward_review(reward_pk=reward.pk, decision="retry", actor=staff)
    assert crediting.reward_credit(reward_pk=reward.pk) == RewardStatus.CREDITED
    assert LedgerEntry.objects.count() == 1
    assert list(reward.actions.values_list("to_status", flat=True)) == [
        "pending",
        "crediting",
        "failed",
        "pending",
        "crediting",
        "credited",
    ]
    assert reward.actions.filter(actor=staff).exists()


def test_staff_review_refuses_impossible_transitions(
    referred: dict[str, Any], no_hold: Any, stripe_standin: Standin
) -> None:
    from dentaltap.errors import ApplicationError

    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first"))
    process_all()
    reward = Reward.objects.get()
    crediting.reward_credit(reward_pk=reward.pk)
    staff = User.objects.create_superuser("staff@dentaltap.example", "x-Strong-pass-99", full_name="Staff")
    with pytest.raises(ApplicationError, match="Cannot reject"):
        reward_services.reward_review(reward_pk=reward.pk, decision="reject", actor=staff)


# --------------------------------------------------------------------------- plans


def test_subscription_events_change_the_plan_and_older_ones_never_roll_it_back(referred: dict[str, Any]) -> None:
    practice = referred["practice"]
    now = int(time.time())
    active = stripe_object("subscription", id="sub_1", customer="cus_newcomer", status="active")
    active["items"] = {
        "object": "list",
        "data": [{"price": {"id": "price_dentaltap_pro_monthly"}, "current_period_end": now + 86400}],
    }
    canceled = dict(active, status="canceled")
    post_event(event("customer.subscription.updated", active, created=now))
    post_event(event("customer.subscription.updated", canceled, created=now - 60))  # older, arrives later
    process_all()
    account = PracticeAccount.objects.get(practice=practice)
    assert (account.plan.code, account.subscription_status) == ("pro", "active")
    assert practice.plan == "pro"
    post_event(event("customer.subscription.deleted", canceled, created=now + 60))
    process_all()
    assert PracticeAccount.objects.get(practice=practice).plan.code == "freemium"


def test_checkout_creates_one_customer_and_returns_the_stripe_url(
    practice_a: Pair, stripe_standin: Standin, client_for: Callable[..., Client]
) -> None:
    owner, alpha = practice_a
    client = client_for(owner, alpha)
    first = client.post("/billing/checkout/pro/")
    second = client.post("/billing/checkout/pro/")
    assert first.status_code == second.status_code == 302
    assert first["Location"].startswith(f"{stripe_standin.url}/checkout/cs_test")
    assert len(stripe_standin.state.customers) == 1
    customer_calls = stripe_standin.requests("/v1/customers")
    assert [c["idempotency_key"] for c in customer_calls if c["path"] == "/v1/customers"] == [
        f"dentaltap-practice-{alpha.pk}-customer"
    ]
    session = next(iter(stripe_standin.state.sessions.values()))
    assert (
        session["client_reference_id"] == str(alpha.pk)
        and session["line_items"][0]["price"] == "price_dentaltap_pro_monthly"
    )
    assert client.post("/billing/checkout/platinum/").status_code == 302  # unknown plan: message, no Stripe call
    assert len(stripe_standin.state.sessions) == 2


def test_billing_page_needs_billing_permission(
    practice_a: Pair, practice_b: Pair, client_for: Callable[..., Client]
) -> None:
    from tenants.models import JoinedVia, Role
    from tenants.services import membership_create

    owner, alpha = practice_a
    owner_b, _ = practice_b
    assert client_for(owner, alpha).get("/billing/").status_code == 200
    membership_create(user=owner_b, practice=alpha, role=Role.ASSISTANT, joined_via=JoinedVia.INVITATION)
    assert client_for(owner_b, alpha).get("/billing/").status_code == 403
    assert client_for(owner_b, alpha).get("/api/billing/").status_code == 403
    assert client_for(owner_b, alpha).post("/billing/checkout/pro/").status_code == 403


def test_freemium_patient_cap_gives_a_clear_upgrade_message(
    practice_a: Pair, client_for: Callable[..., Client]
) -> None:
    from billing.models import Plan

    owner, alpha = practice_a
    Plan.objects.filter(is_freemium=True).update(max_patients=2)
    client = client_for(owner, alpha)
    for name in ("A", "B"):
        assert (
            client.post(
                "/api/patients/", {"first_name": name, "last_name": "X"}, content_type="application/json"
            ).status_code
            == 201
        )
    refused = client.post("/api/patients/", {"first_name": "C", "last_name": "X"}, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "plan_limit_reached" and "Upgrade" in refused.json()["error"]["message"]
    page = client.post("/patients/new/", {"first_name": "C", "last_name": "X"})
    assert page.status_code == 400 and "Upgrade" in str(page.context["form"].non_field_errors())
    from practice.models import Patient

    with tenant_context(alpha):
        assert Patient.objects.count() == 2


def test_freemium_practitioner_cap(practice_a: Pair) -> None:
    from billing.limits import PlanLimitReached
    from tenants.models import JoinedVia, Role
    from tenants.services import membership_create
    from tests.factories import UserFactory

    _, alpha = practice_a
    membership_create(user=UserFactory(), practice=alpha, role=Role.DENTIST, joined_via=JoinedVia.INVITATION)
    with pytest.raises(PlanLimitReached, match="practitioners"):
        membership_create(user=UserFactory(), practice=alpha, role=Role.DENTIST, joined_via=JoinedVia.INVITATION)
    membership_create(
        user=UserFactory(), practice=alpha, role=Role.ASSISTANT, joined_via=JoinedVia.INVITATION
    )  # not a practitioner


# --------------------------------------------------------------------------- review findings


def modern_invoice_paid(*, customer: str, invoice_id: str, **kwargs: Any) -> dict[str, Any]:
    """API versions since 2025-03-31: no charge or payment intent on the invoice."""
    payload = invoice_paid(customer=customer, invoice_id=invoice_id, **kwargs)
    payload["data"]["object"].pop("charge", None)
    payload["data"]["object"].pop("payment_intent", None)
    return payload


def invoice_payment_paid(*, invoice_id: str, charge: str, intent: str) -> dict[str, Any]:
    obj = {
        "id": f"inpay_{invoice_id}", "object": "invoice_payment", "invoice": invoice_id, "status": "paid",
        "amount_paid": 4900, "currency": "usd", "livemode": False,
        "payment": {"type": "payment_intent", "payment_intent": intent, "charge": charge},
    }  # fmt: skip
    return event("invoice_payment.paid", obj)


@pytest.mark.parametrize("order", ["payment_first", "link_first", "refund_first"])
def test_refund_cancels_with_the_current_api_shape_whatever_the_order(referred: dict[str, Any], order: str) -> None:
    paid = modern_invoice_paid(customer="cus_newcomer", invoice_id="in_new")
    link = invoice_payment_paid(invoice_id="in_new", charge="ch_new", intent="pi_new")
    refund = charge_refunded(charge="ch_new", customer="cus_newcomer")
    refund["data"]["object"]["payment_intent"] = "pi_new"
    sequence = {
        "payment_first": [paid, link, refund],
        "link_first": [link, paid, refund],
        "refund_first": [refund, paid, link],
    }
    for payload in sequence[order]:
        post_event(payload)
        process_all()
    payment = Payment.objects.get()
    assert (payment.stripe_charge_id, payment.stripe_payment_intent_id, payment.is_reversed) == (
        "ch_new",
        "pi_new",
        True,
    )
    assert Reward.objects.get().status == RewardStatus.CANCELLED


def test_refund_during_a_credit_that_reached_stripe_is_recorded_then_clawed_back(
    referred: dict[str, Any], no_hold: Any, stripe_standin: Standin
) -> None:
    from billing import stripe_gateway

    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first", charge="ch_first"))
    process_all()
    reward = Reward.objects.get()
    customer = services.stripe_customer_ensure(practice=referred["referrer_practice"])
    # An earlier run got as far as Stripe, then died before the ledger step.
    stripe_gateway.customer_balance_adjust(
        customer_id=customer, amount_cents=-5000, currency="usd", idempotency_key="lost-run", description="",
        metadata={"reward_id": str(reward.pk), "referral_id": str(reward.referral_id), "kind": "credit"},
    )  # fmt: skip
    Reward.objects.filter(pk=reward.pk).update(status=RewardStatus.CREDITING, attempts=1)
    post_event(charge_refunded(charge="ch_first", customer="cus_newcomer"))
    process_all()
    assert Reward.objects.get().status == RewardStatus.CREDITING  # left for the credit run to settle

    assert crediting.reward_credit(reward_pk=reward.pk) == RewardStatus.CREDITED  # found, not repeated
    assert crediting.reward_clawback(reward_pk=reward.pk) == RewardStatus.CLAWED_BACK
    assert [t["amount"] for t in stripe_standin.balance_transactions(customer)] == [-5000, 5000]
    assert sorted(LedgerEntry.objects.values_list("amount_cents", flat=True)) == [-5000, 5000]


@pytest.mark.parametrize("reached_stripe", [False, True])
def test_refund_of_a_failed_credit_asks_stripe_before_cancelling(
    referred: dict[str, Any], no_hold: Any, stripe_standin: Standin, reached_stripe: bool
) -> None:
    from billing import stripe_gateway

    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first", charge="ch_first"))
    process_all()
    reward = Reward.objects.get()
    customer = services.stripe_customer_ensure(practice=referred["referrer_practice"])
    if reached_stripe:  # the "failed" attempt timed out after Stripe applied it
        stripe_gateway.customer_balance_adjust(
            customer_id=customer, amount_cents=-5000, currency="usd", idempotency_key="timed-out", description="",
            metadata={"reward_id": str(reward.pk), "referral_id": str(reward.referral_id), "kind": "credit"},
        )  # fmt: skip
    Reward.objects.filter(pk=reward.pk).update(status=RewardStatus.FAILED, attempts=3)
    post_event(charge_refunded(charge="ch_first", customer="cus_newcomer"))
    process_all()
    crediting.reward_credit(reward_pk=reward.pk)  # what the queued reconciliation runs
    reward.refresh_from_db()
    if reached_stripe:
        assert reward.status == RewardStatus.CREDITED
        assert crediting.reward_clawback(reward_pk=reward.pk) == RewardStatus.CLAWED_BACK
        assert services.credit_balance_cents(practice=referred["referrer_practice"]) == 0
        assert stripe_standin.state.customers[customer]["balance"] == 0
    else:
        assert reward.status == RewardStatus.CANCELLED
        assert not LedgerEntry.objects.exists() and stripe_standin.balance_transactions(customer) == []


def test_an_event_that_keeps_failing_ends_failed_instead_of_looping(referred: dict[str, Any]) -> None:
    broken = invoice_paid(customer="cus_newcomer", invoice_id="in_broken")
    del broken["data"]["object"]["id"]
    post_event(broken)
    event_pk = StripeEvent.objects.get().pk
    for _attempt in range(services.MAX_EVENT_ATTEMPTS - 1):
        with pytest.raises(KeyError):
            services.stripe_event_process(event_pk=event_pk)
    assert services.stripe_event_process(event_pk=event_pk) == StripeEventStatus.FAILED
    stored = StripeEvent.objects.get()
    assert stored.status == StripeEventStatus.FAILED and "KeyError" in stored.note
    assert services.stripe_events_relay(older_than_seconds=-60) == 0  # no longer relayed
    assert not Payment.objects.exists()


def test_one_subscription_per_practice(referred: dict[str, Any], stripe_standin: Standin) -> None:
    from dentaltap.errors import ApplicationError

    now = int(time.time())
    current = stripe_object("subscription", id="sub_current", customer="cus_newcomer", status="active")
    current["items"] = {
        "object": "list",
        "data": [{"price": {"id": "price_dentaltap_pro_monthly"}, "current_period_end": now + 86400}],
    }
    post_event(event("customer.subscription.created", current, created=now))
    stray = dict(current, id="sub_stray", status="canceled")
    post_event(event("customer.subscription.deleted", stray, created=now + 5))
    process_all()
    account = PracticeAccount.objects.get(practice=referred["practice"])
    assert (account.plan.code, account.stripe_subscription_id) == ("pro", "sub_current")
    assert "not the practice's current one" in StripeEvent.objects.order_by("pk").last().note  # type: ignore[union-attr]
    with pytest.raises(ApplicationError, match="already has a subscription"):
        services.checkout_start(
            practice=referred["practice"], plan_code="pro", success_url="http://x/", cancel_url="http://x/"
        )
