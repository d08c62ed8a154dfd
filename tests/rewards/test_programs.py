"""Reward programs as configuration (issue 11): bad configuration refused by the form and the
database, the data migration from today's program, two-sided and percentage rewards through the
webhook, caps under concurrent qualifications, points and idempotent redemption, the preview."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from billing import services as billing_services
from billing.models import LedgerEntry, LedgerKind, Payment, PracticeAccount
from dentaltap.errors import ApplicationError
from referrals.models import Referral
from rewards import crediting, points, programs
from rewards import services as reward_services
from rewards.models import (
    CatalogueItem,
    PointsEntry,
    ProgramOverride,
    Redemption,
    ReferralProgram,
    Reward,
    RewardRecipient,
    RewardRule,
    RewardStatus,
)
from tenants.models import User
from tests.billing_support import Pair, default_rule, default_rule_set, post_event, process_all
from tests.concurrency import run_together
from tests.stripe_helpers import charge_refunded, invoice_paid


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_superuser("staff@dentaltap.example", "x-Strong-pass-99", full_name="Staff")


# --------------------------------------------------------------------------- configuration


def a_rule(**fields: Any) -> RewardRule:
    return RewardRule(program=reward_services.program_current(), name="test", **fields)


@pytest.mark.parametrize(
    ("fields", "field", "constraint"),
    [
        ({"structure": "percent", "basis_points": 10_001}, "basis_points", "rule_percentage_at_most_100"),
        ({"condition": "nth_paid", "amount_cents": 100}, "threshold", "rule_tier_has_a_threshold"),
        (
            {"structure": "percent", "basis_points": 500, "trigger": "signup"},
            "structure",
            "rule_percentage_needs_a_payment",
        ),
        ({"structure": "points", "points": 0}, "points", "rule_structure_has_its_value"),
        ({"duration": "months", "amount_cents": 100, "trigger": "paid_invoice"}, "duration_months", "rule_months_with"),
        ({"duration": "forever", "amount_cents": 100}, "duration", "rule_repeats_only_on_paid_invoices"),
    ],
)
@pytest.mark.django_db
def test_bad_rules_are_refused_by_the_form_naming_the_field_and_by_the_database(
    fields: dict[str, Any], field: str, constraint: str
) -> None:
    rule = a_rule(**fields)
    with pytest.raises(ValidationError) as refused:
        rule.full_clean()
    assert field in refused.value.message_dict
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        rule.save()
    assert RewardRule.objects.filter(name="test").count() == 0


@pytest.mark.django_db
def test_two_default_programs_at_the_same_time_are_refused_by_the_form_and_the_database() -> None:
    current = reward_services.program_current()
    overlapping = ReferralProgram(name="Spring", is_default=True, starts_at=timezone.now())
    with pytest.raises(ValidationError) as refused:
        overlapping.full_clean()
    assert "is_default" in refused.value.message_dict and current.name in str(refused.value)
    with pytest.raises(IntegrityError, match="program_one_default_at_a_time"), transaction.atomic():
        overlapping.save()
    # A default program after the current one ends is fine.
    now = timezone.now()
    ReferralProgram.objects.filter(pk=current.pk).update(ends_at=now)
    ReferralProgram.objects.create(name="Next", is_default=True, starts_at=now)
    assert reward_services.program_current().name == "Next"


# --------------------------------------------------------------------------- the data migration


@pytest.mark.django_db(transaction=True)
@pytest.mark.practice_rows_only
def test_todays_program_becomes_the_default_program_and_nothing_is_credited_again(
    referred: dict[str, Any], no_hold: Any, stripe_standin: Any
) -> None:
    """Real migrations: back to before the data migration, the program row given today's terms
    (a $40 credit, 7 days' hold, 3 a year) and the rules gone; forward again. The credited reward
    points at the default program and its one rule, keeps its amount, status and ledger entry,
    and a credit run finds it done: no second Stripe write."""
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_before"))
    process_all()
    reward = Reward.objects.get()
    crediting.reward_credit(reward_pk=reward.pk)
    reward.refresh_from_db()
    assert reward.status == RewardStatus.CREDITED
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate([("rewards", "0003_programs")])
    try:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE rewards_reward SET rule_id = NULL, occurrence = 'once', recipient_user_id = NULL")
            cursor.execute("DELETE FROM rewards_rewardrule")
            cursor.execute(
                "UPDATE rewards_referralprogram SET is_default = false, reward_cents = 4000, hold_days = 7,"
                " yearly_cap_per_referrer = 3"
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(leaves)
    program = ReferralProgram.objects.get(is_default=True)
    rule = RewardRule.objects.get()
    assert (rule.program_id, rule.trigger, rule.recipient, rule.structure) == (
        program.pk,
        "first_payment",
        "referrer",
        "flat",
    )
    assert (rule.amount_cents, rule.hold_days, rule.cap_period, rule.cap_count) == (4000, 7, "year", 3)
    kept = Reward.objects.get(pk=reward.pk)
    assert (kept.program_id, kept.rule_id, kept.recipient, kept.recipient_user_id) == (
        program.pk,
        rule.pk,
        RewardRecipient.REFERRER,
        reward.referrer_id,
    )
    assert (kept.amount_cents, kept.status, kept.stripe_balance_transaction_id) == (
        5000,
        RewardStatus.CREDITED,
        reward.stripe_balance_transaction_id,
    )
    assert crediting.reward_credit(reward_pk=reward.pk) == RewardStatus.CREDITED
    assert LedgerEntry.objects.count() == 1
    assert len(stripe_standin.writes("balance_transactions")) == 1
    # The next payment of the same practice earns nothing more (the first payment's reward).
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_after"))
    process_all()
    assert Reward.objects.count() == 1


# --------------------------------------------------------------------------- two-sided, percentage


def _referrer_customer(practice: Any) -> str:
    return PracticeAccount.objects.get(practice=practice).stripe_customer_id


@pytest.mark.django_db(transaction=True)
@pytest.mark.practice_rows_only
def test_two_sided_credit_lands_once_on_both_balances_whatever_the_replays(
    referred: dict[str, Any], stripe_standin: Any
) -> None:
    default_rule_set(recipient="both", amount_cents=2500, hold_days=0)
    event = invoice_paid(customer="cus_newcomer", invoice_id="in_two_sided")
    results = run_together(*[lambda: post_event(event).status_code for _ in range(8)])
    assert results == [200] * 8
    run_together(*[process_all for _ in range(4)])
    rewards = list(Reward.objects.order_by("recipient"))
    assert [(reward.recipient, reward.amount_cents) for reward in rewards] == [("referred", 2500), ("referrer", 2500)]
    # The referred practice's Stripe customer is made at the stand-in on its first credit.
    PracticeAccount.objects.filter(practice=referred["practice"]).update(stripe_customer_id="")
    outcomes = run_together(
        *[lambda pk=reward.pk: crediting.reward_credit(reward_pk=pk) for reward in rewards for _ in range(3)]
    )
    assert outcomes.count(RewardStatus.CREDITED) >= 2
    assert [
        (reward.status, reward.beneficiary_practice_id, reward.last_error)
        for reward in Reward.objects.order_by("recipient")
    ] == [
        (RewardStatus.CREDITED, referred["practice"].pk, ""),
        (RewardStatus.CREDITED, referred["referrer_practice"].pk, ""),
    ]
    assert billing_services.credit_balance_cents(practice=referred["referrer_practice"]) == 2500
    assert billing_services.credit_balance_cents(practice=referred["practice"]) == 2500
    assert LedgerEntry.objects.count() == 2
    # Concurrent runs may each send the write; one idempotency key per reward makes it one at Stripe.
    assert len({call["idempotency_key"] for call in stripe_standin.writes("balance_transactions")}) == 2
    transactions = set(LedgerEntry.objects.values_list("stripe_balance_transaction_id", flat=True))
    assert len(transactions) == 2 and "" not in transactions


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_percentage_of_every_paid_invoice_shrinks_with_a_partial_refund_before_and_after_crediting(
    referred: dict[str, Any], stripe_standin: Any
) -> None:
    default_rule_set(
        trigger="paid_invoice", duration="forever", structure="percent", amount_cents=0, basis_points=2000, hold_days=0
    )
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_one", amount=9900, charge="ch_one"))
    post_event(charge_refunded(charge="ch_one", customer="cus_newcomer", amount=2000))  # before the credit
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_two", amount=9900, charge="ch_two"))
    process_all()
    first, second = Reward.objects.order_by("pk")
    assert (first.amount_cents, second.amount_cents) == (1580, 1980)  # 20% of 79.00 and of 99.00
    assert first.occurrence != second.occurrence
    crediting.reward_credit(reward_pk=second.pk)
    post_event(charge_refunded(charge="ch_two", customer="cus_newcomer", amount=4000))  # after it: 20% of 59.00
    process_all()
    for _ in range(3):
        crediting.reward_adjust(reward_pk=second.pk)
    entries = list(
        LedgerEntry.objects.filter(reward=second).order_by("pk").values_list("kind", "amount_cents", "adjustment_key")
    )
    assert entries == [(LedgerKind.REWARD_CREDIT, 1980, ""), (LedgerKind.REWARD_ADJUSTMENT, -800, "to-1180")]
    assert billing_services.credit_balance_cents(practice=referred["referrer_practice"]) == 1180
    customer = _referrer_customer(referred["referrer_practice"])
    assert [t["amount"] for t in stripe_standin.balance_transactions(customer)] == [-1980, 800]


# --------------------------------------------------------------------------- caps and tiers under load


def _referral_paid(make_practice: Callable[..., Pair], referrer: Any, name: str) -> Payment:
    user, practice = make_practice(name, schema=False)
    Referral.objects.create(
        referrer=referrer, referred_user=user, referred_practice=practice, source="link", eligibility="eligible"
    )
    return Payment.objects.create(
        stripe_invoice_id=f"in_{name}",
        practice=practice,
        stripe_customer_id=f"cus_{name}",
        amount_cents=9900,
        currency="usd",
        paid_at=timezone.now(),
    )


def _qualify(payment_pk: int) -> str:
    with transaction.atomic():
        return reward_services.referral_qualify(payment=Payment.objects.get(pk=payment_pk))


@pytest.mark.django_db(transaction=True)
def test_the_cap_holds_when_a_referrers_referrals_qualify_at_the_same_moment(
    make_practice: Callable[..., Pair],
) -> None:
    referrer, _home = make_practice("capped-referrer", schema=False)
    default_rule_set(cap_count=2)
    payments = [_referral_paid(make_practice, referrer, f"cap{index}") for index in range(6)]
    run_together(*[lambda pk=payment.pk: _qualify(pk) for payment in payments])
    statuses = sorted(Reward.objects.values_list("status", flat=True))
    assert statuses.count(RewardStatus.PENDING) == 2
    assert statuses.count(RewardStatus.CANCELLED) == 4


@pytest.mark.django_db(transaction=True)
def test_the_program_budget_holds_under_concurrent_qualifications(make_practice: Callable[..., Pair]) -> None:
    referrer, _home = make_practice("budget-referrer", schema=False)
    ReferralProgram.objects.filter(pk=reward_services.program_current().pk).update(budget_cents=12000)
    payments = [_referral_paid(make_practice, referrer, f"budget{index}") for index in range(5)]
    run_together(*[lambda pk=payment.pk: _qualify(pk) for payment in payments])
    paying = Reward.objects.exclude(status=RewardStatus.CANCELLED)
    assert sorted(paying.values_list("amount_cents", flat=True)) == [2000, 5000, 5000]  # the rest of the budget
    assert Reward.objects.filter(status=RewardStatus.CANCELLED).count() == 2


@pytest.mark.django_db
def test_a_milestone_tier_pays_a_bonus_on_the_third_paid_referral_and_a_higher_tier_replaces_the_base(
    make_practice: Callable[..., Pair],
) -> None:
    referrer, _home = make_practice("tiered-referrer", schema=False)
    base = default_rule()
    RewardRule.objects.filter(pk=base.pk).update(tier_group="base")
    program = base.program
    RewardRule.objects.create(
        program=program, name="$75 from the 2nd on", amount_cents=7500, condition="at_least_paid", threshold=2,
        tier_group="base",
    )  # fmt: skip
    RewardRule.objects.create(program=program, name="bonus at 3", amount_cents=10000, condition="nth_paid", threshold=3)
    for index in range(4):
        _qualify(_referral_paid(make_practice, referrer, f"tier{index}").pk)
    paid = list(Reward.objects.order_by("pk").values_list("referral__referred_user__email", "amount_cents"))
    assert [amount for _email, amount in paid] == [5000, 7500, 7500, 10000, 7500]


@pytest.mark.django_db
def test_an_override_puts_a_referrer_under_another_program(make_practice: Callable[..., Pair]) -> None:
    referrer, _home = make_practice("vip-referrer", schema=False)
    vip = ReferralProgram.objects.create(name="VIP")
    RewardRule.objects.create(program=vip, name="VIP $200", amount_cents=20000)
    ProgramOverride.objects.create(referrer=referrer, program=vip)
    _qualify(_referral_paid(make_practice, referrer, "vip0").pk)
    reward = Reward.objects.get()
    assert (reward.program, reward.amount_cents) == (vip, 20000)


# --------------------------------------------------------------------------- points


@pytest.mark.django_db(transaction=True)
def test_points_are_earned_and_a_retried_redemption_never_spends_twice(make_practice: Callable[..., Pair]) -> None:
    referrer, _home = make_practice("points-referrer", schema=False)
    default_rule_set(structure="points", amount_cents=0, points=1500, hold_days=0)
    _qualify(_referral_paid(make_practice, referrer, "points0").pk)
    _qualify(_referral_paid(make_practice, referrer, "points1").pk)
    for reward in Reward.objects.all():
        crediting.reward_credit(reward_pk=reward.pk)
        crediting.reward_credit(reward_pk=reward.pk)
    assert points.points_balance(user=referrer) == 3000
    assert not LedgerEntry.objects.exists()  # points are not money: no Stripe, no credit ledger
    item = CatalogueItem.objects.create(name="$100 credit", cost_points=2000, stock=5)
    results = run_together(
        *[
            lambda: points.redemption_create(user=referrer, item_id=item.pk, idempotency_key="click-1").pk
            for _ in range(6)
        ]
    )
    assert len(set(results)) == 1
    assert Redemption.objects.count() == 1
    assert points.points_balance(user=referrer) == 1000
    item.refresh_from_db()
    assert item.stock == 4
    with pytest.raises(ApplicationError, match="Not enough points"):
        points.redemption_create(user=referrer, item_id=item.pk, idempotency_key="click-2")
    assert PointsEntry.objects.filter(user=referrer).count() == 3


@pytest.mark.django_db
def test_redemption_refusals_write_nothing(make_practice: Callable[..., Pair]) -> None:
    user, _home = make_practice("refused-redeemer", schema=False)
    sold_out = CatalogueItem.objects.create(name="Pro month", cost_points=10, stock=0)
    expired = CatalogueItem.objects.create(name="Old", cost_points=10, available_until=timezone.now())
    for item, message in ((sold_out, "out of stock"), (expired, "no longer available")):
        with pytest.raises(ApplicationError, match=message):
            points.redemption_create(user=user, item_id=item.pk, idempotency_key=f"k-{item.pk}")
    assert not Redemption.objects.exists() and not PointsEntry.objects.exists()


# --------------------------------------------------------------------------- words and preview


@pytest.mark.django_db
def test_the_admin_previews_what_a_rule_pays_for_a_99_dollar_invoice(
    public_tenant: Any, staff: Any, client_for: Any
) -> None:
    rule = default_rule_set(recipient="both", structure="percent", amount_cents=0, basis_points=3000)
    assert [preview.amount_cents for preview in programs.rule_preview(rule=rule, paid_cents=9900)] == [2970, 2970]
    page = client_for(staff).get(f"/admin/rewards/rewardrule/{rule.pk}/change/")
    assert page.status_code == 200
    assert "For a $99.00 invoice the referrer gets $29.70." in page.content.decode()
    words = programs.rule_pays_in_words(rule)
    assert words.startswith("You and the practice you refer each get 30% of what they pay")
