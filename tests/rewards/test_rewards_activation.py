"""Activation pays the referred practice's program (issue 12 wiring): onboarding's activation hook
reaches rewards.receivers.on_practice_activated, which runs the ACTIVATION rules once, however
many times the beat job tells it again, and only for the practice that activated."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from onboarding import hooks
from onboarding.models import MilestoneKey, PracticeMilestone
from onboarding.services import milestones_notify_missed
from practice import services as practice_services
from practice.models import AppointmentStatus
from referrals.models import Referral
from rewards import receivers
from rewards import services as reward_services
from rewards.models import Reward, RewardRecipient, RewardRule, RewardStatus, RuleTrigger
from tenants.models import Practice, User

pytestmark = pytest.mark.django_db

Pair = tuple[User, Practice]


@pytest.fixture
def activation_rule() -> RewardRule:
    """The default program also pays the referrer a flat $30 when the referred practice activates."""
    return RewardRule.objects.create(
        program=reward_services.program_current(),
        name="activation $30",
        trigger=RuleTrigger.ACTIVATION,
        amount_cents=3000,
    )


def _activate(practice: Practice, capture: Callable[..., Any]) -> None:
    """The real way: three patients and one completed visit (the default activation rule)."""
    with capture(execute=True), tenant_context(practice):
        patients = [
            practice_services.patient_create(practice=practice, first_name=f"P{number}", last_name="Patient")
            for number in range(3)
        ]
        starts = timezone.now() + datetime.timedelta(days=1)
        practice_services.appointment_create(
            practice=practice,
            patient=patients[0],
            starts_at=starts,
            ends_at=starts + datetime.timedelta(minutes=30),
            status=AppointmentStatus.COMPLETED,
        )
    assert PracticeMilestone.objects.filter(practice=practice, key=MilestoneKey.ACTIVATED).exists()


def _beat_retells(practice: Practice) -> int:
    """As if the process died before telling: the row is owed again, and the beat job tells it."""
    PracticeMilestone.objects.filter(practice=practice, key=MilestoneKey.ACTIVATED).update(
        notified_at=None, recorded_at=timezone.now() - datetime.timedelta(minutes=10)
    )
    return milestones_notify_missed(owed_for_seconds=60, give_up_after_hours=48)


def test_rewards_listens_to_onboardings_activation_hook() -> None:
    assert receivers.on_practice_activated in hooks._activation_listeners


@pytest.mark.practice_rows_only("referrer", "elsewhere")
def test_a_referred_practice_activating_pays_its_activation_rule_once(
    referred: dict[str, Any],
    activation_rule: RewardRule,
    make_practice: Callable[..., Pair],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # Another referral by the same referrer, for a practice that does not activate.
    elsewhere_user, elsewhere = make_practice("elsewhere")
    other_referral = Referral.objects.create(
        referrer=referred["referrer"],
        referred_user=elsewhere_user,
        referred_practice=elsewhere,
        source="link",
        eligibility="eligible",
    )
    _activate(referred["practice"], django_capture_on_commit_callbacks)

    reward = Reward.objects.get()
    assert (reward.referral_id, reward.rule_id, reward.recipient, reward.amount_cents, reward.status) == (
        referred["referral"].pk,
        activation_rule.pk,
        RewardRecipient.REFERRER,
        3000,
        RewardStatus.PENDING,  # the rule's 14 days' hold
    )
    assert reward.beneficiary_practice_id == referred["referrer_practice"].pk
    assert PracticeMilestone.objects.get(practice=referred["practice"], key=MilestoneKey.ACTIVATED).notified_at

    # The beat's re-tell, and the listener told directly once more: still one reward.
    assert _beat_retells(referred["practice"]) == 1
    receivers.on_practice_activated(
        hooks.MilestoneReached(
            practice_id=referred["practice"].pk, key=MilestoneKey.ACTIVATED, reached_at=timezone.now()
        )
    )
    assert list(Reward.objects.values_list("pk", flat=True)) == [reward.pk]
    assert not Reward.objects.filter(referral=other_referral).exists()


@pytest.mark.practice_rows_only("referrer", "newcomer")
def test_a_practice_nobody_referred_activates_and_nobody_is_paid(
    referred: dict[str, Any],
    activation_rule: RewardRule,
    make_practice: Callable[..., Pair],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    _user, loner = make_practice("loner")
    _activate(loner, django_capture_on_commit_callbacks)
    assert _beat_retells(loner) == 1
    assert not Reward.objects.exists()  # the referral of another practice is untouched too
    assert PracticeMilestone.objects.get(practice=loner, key=MilestoneKey.ACTIVATED).notified_at
