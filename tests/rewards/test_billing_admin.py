"""Staff work in the Django admin: event reprocess, reward approve / hold / reject / retry,
referral review and the referral program's hold. Each through the admin's own HTTP interface
(the changelist action POST, the change form) as a staff user, checking the outcome, the
reward's log and the admin log, and that anyone else is refused with nothing changed."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from billing import services
from billing.models import LedgerEntry, Payment, StripeEvent, StripeEventStatus
from referrals.models import Eligibility, EligibilityReason, Referral
from rewards import services as reward_services
from rewards.models import Reward, RewardAction, RewardRule, RewardStatus
from tenants.models import User
from tests.billing_support import default_rule, post_event, process_all, wait_for
from tests.factories import UserFactory
from tests.stripe_helpers import Standin, invoice_paid

pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]
ClientFor = Callable[..., Client]
REWARDS = "/admin/rewards/reward/"
EVENTS = "/admin/billing/stripeevent/"
REFERRALS = "/admin/referrals/referral/"


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_superuser("staff@dentaltap.example", "x-Strong-pass-99", full_name="Staff")


def run_action(client: Client, changelist: str, action: str, *pks: int) -> Any:
    """What the changelist's action form posts."""
    data = {"action": action, "select_across": "0", "index": "0", "_selected_action": [str(pk) for pk in pks]}
    return client.post(changelist, data, follow=True)


def admin_messages(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def admin_log(staff: User, obj: Any) -> list[str]:
    return list(
        LogEntry.objects.filter(user=staff, object_id=str(obj.pk), action_flag=CHANGE)
        .order_by("pk")
        .values_list("change_message", flat=True)
    )


def a_reward(status: str, *, hold_over: bool = False) -> Reward:
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first"))
    process_all()
    reward = Reward.objects.get()
    changes: dict[str, Any] = {"status": status}
    if hold_over:
        changes["hold_until"] = timezone.now() - datetime.timedelta(minutes=1)
    Reward.objects.filter(pk=reward.pk).update(**changes)
    reward.refresh_from_db()
    return reward


# --------------------------------------------------------------------------- rewards


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        ("approve", RewardStatus.ON_HOLD, RewardStatus.PENDING),
        ("hold", RewardStatus.PENDING, RewardStatus.ON_HOLD),
        ("reject", RewardStatus.ON_HOLD, RewardStatus.REJECTED),
        ("retry", RewardStatus.FAILED, RewardStatus.PENDING),
    ],
)
def test_each_reward_action_moves_the_reward_and_is_logged(
    referred: dict[str, Any], staff: User, client_for: ClientFor, *, action: str, before: str, after: str
) -> None:
    reward = a_reward(before)
    response = run_action(client_for(staff), REWARDS, action, reward.pk)
    assert response.status_code == 200
    assert f"{action}: 1 reward." in admin_messages(response)
    reward.refresh_from_db()
    assert reward.status == after
    last = RewardAction.objects.filter(reward=reward).order_by("pk").last()
    assert last is not None and (last.actor, last.from_status, last.to_status, last.note) == (
        staff,
        before,
        after,
        f"staff: {action}",
    )
    assert admin_log(staff, reward) == [f"Staff decision: {action} (was {before})."]


def test_approving_a_reward_whose_hold_is_over_queues_its_credit_after_commit(
    referred: dict[str, Any], staff: User, client_for: ClientFor, django_capture_on_commit_callbacks: Any
) -> None:
    reward = a_reward(RewardStatus.ON_HOLD, hold_over=True)
    with django_capture_on_commit_callbacks() as callbacks:
        run_action(client_for(staff), REWARDS, "approve", reward.pk)
    assert len(callbacks) == 1  # the credit task, published only once the admin's work committed
    reward.refresh_from_db()
    assert reward.status == RewardStatus.PENDING


def test_an_impossible_reward_action_is_refused_with_a_message_and_changes_nothing(
    referred: dict[str, Any], staff: User, client_for: ClientFor
) -> None:
    reward = a_reward(RewardStatus.CREDITED)
    actions_before = RewardAction.objects.count()
    response = run_action(client_for(staff), REWARDS, "reject", reward.pk)
    assert f"#{reward.pk}: Cannot reject a reward that is Credited." in admin_messages(response)
    reward.refresh_from_db()
    assert reward.status == RewardStatus.CREDITED
    assert RewardAction.objects.count() == actions_before and admin_log(staff, reward) == []


# --------------------------------------------------------------------------- referral review


@pytest.mark.parametrize(
    ("action", "eligibility", "reward_status"),
    [
        ("approve_after_review", Eligibility.ELIGIBLE, RewardStatus.PENDING),
        ("reject_after_review", Eligibility.INELIGIBLE, RewardStatus.REJECTED),
    ],
)
def test_referral_review_actions_decide_the_referral_and_its_held_reward(
    referred: dict[str, Any],
    staff: User,
    client_for: ClientFor,
    *,
    action: str,
    eligibility: str,
    reward_status: str,
) -> None:
    referral = referred["referral"]
    Referral.objects.filter(pk=referral.pk).update(
        eligibility=Eligibility.REVIEW, eligibility_reason=EligibilityReason.DISPOSABLE_EMAIL
    )
    reward = a_reward(RewardStatus.ON_HOLD)
    response = run_action(client_for(staff), REFERRALS, action, referral.pk)
    assert "1 referral reviewed." in admin_messages(response)
    referral.refresh_from_db()
    assert (referral.eligibility, referral.reviewed_by) == (eligibility, staff)
    reward.refresh_from_db()
    assert reward.status == reward_status
    assert RewardAction.objects.filter(reward=reward, actor=staff).count() == 1
    decision = action.split("_", maxsplit=1)[0]
    assert admin_log(staff, referral) == [f"Staff review: {decision}."]


# --------------------------------------------------------------------------- event reprocess


def test_reprocess_queues_pending_and_failed_events_after_commit_and_leaves_the_rest(
    public_tenant: Any, staff: User, client_for: ClientFor, django_capture_on_commit_callbacks: Any
) -> None:
    for number in (1, 2, 3):
        post_event(invoice_paid(customer="cus_nobody", invoice_id=f"in_{number}", event_id=f"evt_admin_{number}"))
    failed, processed, pending = StripeEvent.objects.order_by("pk")
    StripeEvent.objects.filter(pk=failed.pk).update(status=StripeEventStatus.FAILED, attempts=8)
    StripeEvent.objects.filter(pk=processed.pk).update(status=StripeEventStatus.PROCESSED)
    with django_capture_on_commit_callbacks() as callbacks:
        response = run_action(client_for(staff), EVENTS, "reprocess", failed.pk, processed.pk, pending.pk)
    assert len(callbacks) == 2
    assert admin_messages(response) == [
        "2 events queued.",
        "1 event already processed or ignored was left as it is.",
    ]
    statuses = dict(StripeEvent.objects.values_list("pk", "status"))
    assert statuses == {failed.pk: "pending", processed.pk: "processed", pending.pk: "pending"}
    assert admin_log(staff, failed) == ["Queued for processing again (was failed)."]
    assert admin_log(staff, processed) == []


@pytest.mark.django_db(transaction=True)
def test_a_reprocessed_failed_event_is_processed_by_the_worker(
    referred: dict[str, Any], staff: User, client_for: ClientFor, celery_worker: object
) -> None:
    """The whole path: the action commits, the task reaches a real worker, the payment lands."""
    payload = invoice_paid(customer="cus_newcomer", invoice_id="in_again", event_id="evt_again")
    event = StripeEvent.objects.create(  # in the inbox, given up on after a bug since fixed
        stripe_event_id="evt_again", type="invoice.paid", stripe_created=payload["created"], object_id="in_again",
        payload=payload, status=StripeEventStatus.FAILED, attempts=8, note="KeyError: 'id'",
    )  # fmt: skip
    run_action(client_for(staff), EVENTS, "reprocess", event.pk)
    assert wait_for(lambda: StripeEvent.objects.get(pk=event.pk).status == StripeEventStatus.PROCESSED)
    event.refresh_from_db()
    assert event.attempts == 9
    assert Payment.objects.get().stripe_invoice_id == "in_again"
    assert Reward.objects.get().status == RewardStatus.PENDING
    assert admin_log(staff, event) == ["Queued for processing again (was failed)."]


# --------------------------------------------------------------------------- who may act


def test_non_staff_and_staff_without_permission_are_refused_and_nothing_changes(
    referred: dict[str, Any], staff: User, client_for: ClientFor
) -> None:
    reward = a_reward(RewardStatus.ON_HOLD)
    event = StripeEvent.objects.get()
    StripeEvent.objects.filter(pk=event.pk).update(status=StripeEventStatus.FAILED)
    owner = referred["referrer"]  # a practice owner: not staff
    for client in (client_for(), client_for(owner)):
        response = client.post(REWARDS, {"action": "approve", "index": "0", "_selected_action": [str(reward.pk)]})
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
        response = client.post(EVENTS, {"action": "reprocess", "index": "0", "_selected_action": [str(event.pk)]})
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    bare_staff = UserFactory(is_staff=True)
    response = client_for(bare_staff).post(
        REWARDS, {"action": "approve", "index": "0", "_selected_action": [str(reward.pk)]}
    )
    assert response.status_code == 403
    # Staff who may only look: the lists show, without actions, and a crafted post does nothing.
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_reward", "view_stripeevent", "view_referral"])
    )
    viewer_client = client_for(viewer)
    for changelist, action, pk in (
        (REWARDS, "approve", reward.pk),
        (EVENTS, "reprocess", event.pk),
        (REFERRALS, "approve_after_review", reward.referral_id),
    ):
        response = run_action(viewer_client, changelist, action, pk)
        assert response.status_code == 200 and 'name="action"' not in response.content.decode()
    reward.refresh_from_db()
    assert reward.status == RewardStatus.ON_HOLD
    assert StripeEvent.objects.get().status == StripeEventStatus.FAILED
    assert not LogEntry.objects.exists()
    assert RewardAction.objects.filter(actor__isnull=False).count() == 0


# --------------------------------------------------------------------------- the program's hold


def rule_form(rule: RewardRule, **changes: Any) -> dict[str, Any]:
    fields = [
        "program", "name", "name_ru", "name_de", "trigger", "recipient", "structure", "amount_cents", "basis_points",
        "points", "duration", "duration_months", "hold_days", "cap_period", "cap_count", "cap_amount_cents",
        "condition", "threshold", "tier_group", "payout",
    ]  # fmt: skip
    data = {name: getattr(rule, name + "_id" if name == "program" else name) for name in fields}
    data = {name: "" if value is None else value for name, value in data.items()}
    return {**data, "is_active": "on" if rule.is_active else "", **changes}


def rule_url(rule: RewardRule) -> str:
    return f"/admin/rewards/rewardrule/{rule.pk}/change/"


def test_lowering_the_hold_makes_rewards_already_waiting_due(
    referred: dict[str, Any], staff: User, client_for: ClientFor, django_capture_on_commit_callbacks: Any
) -> None:
    rule = default_rule()
    assert rule.hold_days == 14
    pending = a_reward(RewardStatus.PENDING)
    paid_at = pending.qualifying_payment.paid_at
    assert pending.hold_until == paid_at + datetime.timedelta(days=14)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(staff).post(rule_url(rule), rule_form(rule, hold_days=0), follow=True)
    assert response.status_code == 200
    assert "1 waiting reward is due sooner under the new hold." in admin_messages(response)
    pending.refresh_from_db()
    assert pending.hold_until == paid_at  # due now
    assert len(callbacks) == 1  # its credit is queued once the change committed
    note = RewardAction.objects.filter(reward=pending).order_by("pk").last()
    assert note is not None and note.actor == staff and note.note.startswith("hold now 0 days")
    assert reward_services.rewards_release_due() == 1  # and beat's release finds it due as well


def test_a_held_reward_waiting_for_staff_is_due_once_they_approve_after_the_hold_is_lowered(
    referred: dict[str, Any], staff: User, client_for: ClientFor, django_capture_on_commit_callbacks: Any
) -> None:
    held = a_reward(RewardStatus.ON_HOLD)
    rule = default_rule()
    client_for(staff).post(rule_url(rule), rule_form(rule, hold_days=0))
    held.refresh_from_db()
    assert held.status == RewardStatus.ON_HOLD and held.hold_until <= timezone.now()
    with django_capture_on_commit_callbacks() as callbacks:
        run_action(client_for(staff), REWARDS, "approve", held.pk)
    assert len(callbacks) == 1


def test_a_shorter_hold_on_the_rule_applies_too_but_a_longer_hold_never_delays(
    referred: dict[str, Any], staff: User, client_for: ClientFor
) -> None:
    reward = a_reward(RewardStatus.PENDING)
    promised = reward.hold_until
    rule = default_rule()
    client_for(staff).post(rule_url(rule), rule_form(rule, hold_days=30))
    reward.refresh_from_db()
    assert reward.hold_until == promised  # a date promised to the referrer is kept
    rule.refresh_from_db()
    client_for(staff).post(rule_url(rule), rule_form(rule, hold_days=7))
    reward.refresh_from_db()
    assert reward.hold_until == reward.qualifying_payment.paid_at + datetime.timedelta(days=7)
    assert not LedgerEntry.objects.exists()  # still waiting: seven days from the payment


@pytest.mark.django_db(transaction=True)
def test_with_the_hold_set_to_zero_a_waiting_reward_is_credited_by_the_worker(
    referred: dict[str, Any], staff: User, client_for: ClientFor, stripe_standin: Standin, celery_worker: object
) -> None:
    """The README's walkthrough: a reward pending for 14 days; staff set the hold to 0 in the
    admin; the credit lands, once, without anyone calling a task by hand."""
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_walkthrough"))
    assert wait_for(lambda: Reward.objects.filter(status=RewardStatus.PENDING).exists())
    rule = default_rule()
    client_for(staff).post(rule_url(rule), rule_form(rule, hold_days=0))
    assert wait_for(lambda: Reward.objects.filter(status=RewardStatus.CREDITED).exists()), "never credited"
    assert LedgerEntry.objects.count() == 1
    assert services.credit_balance_cents(practice=referred["referrer_practice"]) == 5000
