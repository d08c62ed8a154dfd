"""Issue 10, the money half: billing hands payments up to rewards through typed hand-offs and
works alone; the reward tables moved to `rewards` with their rows; `Practice.plan` only reads;
the layer order is checked by import-linter (tests/project/test_code_quality.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from billing import handoffs
from billing.handoffs import PaymentRecorded, PaymentReversed
from billing.models import LedgerEntry, LedgerKind, Payment, PracticeAccount, StripeEvent
from rewards import crediting
from rewards.models import Reward, RewardAction, RewardStatus
from tenants.models import Practice, User
from tests.billing_support import post_event, process_all
from tests.stripe_helpers import charge_refunded, invoice_paid

ROOT = Path(__file__).resolve().parents[2]
Pair = tuple[User, Practice]


# --------------------------------------------------------------------------- the hand-off


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_billing_alone_records_the_payment_and_nothing_above_it(referred: dict[str, Any]) -> None:
    """No receiver registered: the invoice becomes a payment, no reward appears, nothing fails."""
    with handoffs.payment_recorded.only(), handoffs.payment_reversed.only(), handoffs.cards_recorded.only():
        post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_alone", charge="ch_alone"))
        post_event(charge_refunded(charge="ch_alone", customer="cus_newcomer"))
        assert process_all() == ["processed", "processed"]
    payment = Payment.objects.get()
    assert payment.stripe_invoice_id == "in_alone" and payment.is_reversed
    assert not Reward.objects.exists() and not RewardAction.objects.exists() and not LedgerEntry.objects.exists()
    notes = list(StripeEvent.objects.order_by("pk").values_list("note", flat=True))
    assert notes[0] == "payment in_alone recorded"


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_billing_hands_each_payment_and_reversal_up_once_with_its_facts(referred: dict[str, Any]) -> None:
    recorded: list[PaymentRecorded] = []
    reversed_: list[PaymentReversed] = []

    def on_recorded(event: PaymentRecorded) -> str:
        recorded.append(event)
        return "seen by the test"

    def on_reversed(event: PaymentReversed) -> None:
        reversed_.append(event)

    with handoffs.payment_recorded.only(on_recorded), handoffs.payment_reversed.only(on_reversed):
        post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_one", charge="ch_one", amount=4900))
        post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_one", event_type="invoice.payment_succeeded"))
        post_event(charge_refunded(charge="ch_one", customer="cus_newcomer"))
        process_all()
    payment = Payment.objects.get()
    assert recorded == [
        PaymentRecorded(
            payment_id=payment.pk,
            practice_id=referred["practice"].pk,
            amount_cents=4900,
            currency="usd",
            paid_at=payment.paid_at,
            is_reversed=False,
        )
    ]
    assert len(reversed_) == 1 and reversed_[0].payment_id == payment.pk and "refunded" in reversed_[0].reason
    assert StripeEvent.objects.order_by("pk").first().note == "seen by the test"  # type: ignore[union-attr]
    assert not Reward.objects.exists()  # only the test's receivers ran


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_rewards_is_registered_at_start_up_and_qualifies_the_referral(
    referred: dict[str, Any], no_hold: Any, stripe_standin: Any
) -> None:
    from rewards import receivers

    assert receivers.on_payment_recorded in handoffs.payment_recorded.receivers
    assert receivers.on_payment_reversed in handoffs.payment_reversed.receivers
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_paid"))
    process_all()
    reward = Reward.objects.get()
    assert crediting.reward_credit(reward_pk=reward.pk) == RewardStatus.CREDITED
    assert LedgerEntry.objects.get().kind == LedgerKind.REWARD_CREDIT


# --------------------------------------------------------------------------- Practice.plan


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_practice_create_creates_the_billing_account(make_practice: Any) -> None:
    _owner, practice = make_practice("accounted")
    account = PracticeAccount.objects.get(practice=practice)
    assert account.plan.is_freemium


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_practice_plan_only_reads_even_when_the_account_is_missing(make_practice: Any) -> None:
    _owner, practice = make_practice("readonly")
    PracticeAccount.objects.filter(practice=practice).delete()
    practice = Practice.objects.get(pk=practice.pk)
    with CaptureQueriesContext(connection) as queries:
        assert (practice.plan, practice.plan_name) == ("freemium", "Freemium")
    statements = [query["sql"].lstrip().split()[0].upper() for query in queries.captured_queries]
    assert statements and set(statements) == {"SELECT"}, statements
    assert not PracticeAccount.objects.filter(practice=practice).exists()


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_practice_plan_reads_the_accounts_plan(make_practice: Any) -> None:
    from tests.conftest import upgrade_to_paid_plan

    _owner, practice = make_practice("paying")
    upgrade_to_paid_plan(practice)
    with CaptureQueriesContext(connection) as queries:
        assert practice.plan == "pro"
    assert len(queries.captured_queries) == 1


# --------------------------------------------------------------------------- the moved tables


def _table_rows(table: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} ORDER BY id")  # noqa: S608 - a fixed table name
        return cursor.fetchall()


def _table_exists(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"public.{table}"])
        return cursor.fetchone()[0] is not None  # type: ignore[index]


@pytest.mark.django_db(transaction=True)
@pytest.mark.practice_rows_only
def test_the_move_keeps_every_reward_log_and_ledger_row(
    referred: dict[str, Any], no_hold: Any, stripe_standin: Any
) -> None:
    """Real migrations on the real database: back to billing owning rewards (billing 0005, the
    tables named billing_*), then forward again. The rows, their ids (the Stripe idempotency
    keys are built from them) and the ledger's link to its reward survive both ways, so a
    credited reward is never credited again."""
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_kept"))
    process_all()
    reward = Reward.objects.get()
    crediting.reward_credit(reward_pk=reward.pk)
    rewards_before = _table_rows("rewards_reward")
    actions_before = _table_rows("rewards_rewardaction")
    programs_before = _table_rows("rewards_referralprogram")
    assert rewards_before == [(reward.pk,)] and len(actions_before) >= 2

    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate([("billing", "0005_payment_card"), ("rewards", None)])
    try:
        assert not _table_exists("rewards_reward")
        assert _table_rows("billing_reward") == rewards_before
        assert _table_rows("billing_rewardaction") == actions_before
        assert _table_rows("billing_referralprogram") == programs_before
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(leaves)

    assert not _table_exists("billing_reward")
    assert _table_rows("rewards_reward") == rewards_before
    assert _table_rows("rewards_rewardaction") == actions_before
    entry = LedgerEntry.objects.select_related("reward").get()
    assert entry.reward == Reward.objects.get(pk=reward.pk)
    # Run again after the move: the credit is found, not repeated.
    assert crediting.reward_credit(reward_pk=reward.pk) == RewardStatus.CREDITED
    assert LedgerEntry.objects.count() == 1
    assert len(stripe_standin.requests("balance_transactions")) == 1


# The layer order itself is import-linter's ([tool.importlinter] in pyproject.toml), run by
# tests/project/test_code_quality.py: it sees every import, function-local ones included, and chains.
