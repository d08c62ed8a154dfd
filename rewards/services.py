"""Referral rewards: qualification (the referred practice's first payment), the hold and its
release, reversal (cancel inside the hold, claw back after it) and staff review. Crediting and
clawing back at Stripe is rewards.crediting.

Money rules: one reward per referral (database rule, relied on); every change is in the
reward's log (RewardAction); Stripe is never called from here, only queued after commit."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import Payment
from billing.services import payment_kept_cents
from dentaltap.errors import ApplicationError
from referrals.models import Eligibility, Referral
from rewards import programs
from rewards.models import ReferralProgram, Reward, RewardAction, RewardStatus, RuleTrigger
from tenants.models import User

FINAL_REWARD_STATUSES = {RewardStatus.CREDITED, RewardStatus.CANCELLED, RewardStatus.REJECTED, RewardStatus.CLAWED_BACK}


def program_current() -> ReferralProgram:
    """The default program running now (the house program on a new install)."""
    program = programs.program_for(referrer_id=0)
    if program is None:
        raise ApplicationError(_("No default referral program runs now."), code="no_program")
    return program


def reward_worth_cents(reward: Reward) -> int:
    """What a reward is worth now: a percentage reward is a share of what its payment still pays
    (refunds and disputes lower it in proportion, never above what it was made for); any other
    reward is its amount."""
    payment = reward.qualifying_payment
    if not reward.basis_points or payment is None:
        return reward.amount_cents
    return min(reward.amount_cents, payment_kept_cents(payment) * reward.basis_points // 10_000)


def reward_voided(reward: Reward) -> bool:
    """Nothing of the reward stands: a percentage reward whose payment was refunded or disputed
    whole; any other reward whose payment was reversed (disputed, or half or more refunded)."""
    if reward.basis_points and reward.qualifying_payment is not None:
        return reward_worth_cents(reward) <= 0
    return reward.payment_reversed


def reward_log(
    reward: Reward, to_status: str, note: str = "", actor: User | None = None, from_status: str | None = None
) -> None:
    RewardAction.objects.create(
        reward=reward,
        actor=actor,
        from_status=from_status if from_status is not None else "",
        to_status=to_status,
        note=note[:300],
    )


def reward_hold_for_new_signal(*, referral_id: int) -> str:
    """A new fraud signal made the referral high risk (the same card, reported after the reward
    was created): each of its rewards still waiting is held for staff; one already on its way
    to Stripe or credited is left, with a note in its log for staff to decide."""
    referral = Referral.objects.get(pk=referral_id)
    rewards = list(Reward.objects.select_for_update().filter(referral_id=referral_id).order_by("pk"))
    if not rewards or referral.eligibility != Eligibility.REVIEW:
        return "no reward to hold"
    why = referral.get_eligibility_reason_display()
    statuses = []
    for reward in rewards:
        if reward.status == RewardStatus.PENDING:
            reward.status, reward.reason = RewardStatus.ON_HOLD, _("Held for review: %(why)s") % {"why": why}
            reward.save(update_fields=["status", "reason", "updated_at"])
            reward_log(reward, RewardStatus.ON_HOLD, referral.eligibility_note, from_status=RewardStatus.PENDING)
        elif reward.status not in (RewardStatus.CANCELLED, RewardStatus.REJECTED, RewardStatus.ON_HOLD):
            note = f"{why}: seen while the reward was {reward.status}; for staff to decide. {referral.eligibility_note}"
            reward_log(reward, reward.status, note, from_status=reward.status)
        statuses.append(str(reward.status))
    return ", ".join(dict.fromkeys(statuses))


def referral_qualify(*, payment: Payment) -> str:
    """The referred practice paid: what its referral's program pays for a first payment (the
    first payment that arrives) and for every paid invoice."""
    referral = Referral.objects.select_for_update().filter(referred_practice_id=payment.practice_id).first()
    if referral is None:
        return "paid; the practice was not referred"
    notes = programs.rewards_for_event(referral=referral, trigger=RuleTrigger.FIRST_PAYMENT, payment=payment)
    notes += programs.rewards_for_event(referral=referral, trigger=RuleTrigger.PAID_INVOICE, payment=payment)
    return "paid; " + "; ".join(dict.fromkeys(notes))


def referral_signed_up(*, referral_id: int) -> str:
    """A referral was recorded: what its program pays for a signup."""
    referral = Referral.objects.select_for_update().get(pk=referral_id)
    return "; ".join(programs.rewards_for_event(referral=referral, trigger=RuleTrigger.SIGNUP))


def referral_activated(*, referred_practice_id: int) -> str:
    """The referred practice reached its activation milestone: what its program pays for it.
    Called by rewards.receivers.on_practice_activated (onboarding's activation hook), inside a
    transaction; a repeat (the beat's re-tell) finds the reward made and adds nothing."""
    referral = Referral.objects.select_for_update().filter(referred_practice_id=referred_practice_id).first()
    if referral is None:
        return "the practice was not referred"
    return "; ".join(programs.rewards_for_event(referral=referral, trigger=RuleTrigger.ACTIVATION))


def reward_refunded(*, payment_id: int) -> None:
    """More of a payment was refunded or disputed: percentage rewards on it shrink in proportion
    (the revenue share keeps its share of what the practice still pays). One not yet credited is
    lowered (cancelled at zero); a credited one gets a reversing adjustment."""
    for reward in (
        Reward.objects.select_for_update(of=("self",))
        .select_related("qualifying_payment")
        .filter(qualifying_payment_id=payment_id, basis_points__gt=0)
    ):
        target = reward_worth_cents(reward)
        if reward.status in (RewardStatus.PENDING, RewardStatus.ON_HOLD) and reward.attempts == 0:
            if target >= reward.amount_cents:
                continue
            note = f"refund: {reward.amount_cents} -> {target} cents"
            if target <= 0:
                reward.status, reward.reason = RewardStatus.CANCELLED, _("The qualifying payment was refunded.")
            reward.amount_cents = target or reward.amount_cents
            reward.save(update_fields=["amount_cents", "status", "reason", "updated_at"])
            reward_log(reward, reward.status, note, from_status=reward.status)
        elif reward.status == RewardStatus.CREDITED:
            adjust_after_commit(reward.pk)
        # crediting or failed: reward_credit queues the adjustment once the credit is recorded


def credit_after_commit(reward_pk: int) -> None:
    from rewards.tasks import reward_credit  # noqa: PLC0415 - rewards.tasks imports this module

    transaction.on_commit(lambda: reward_credit.delay(reward_pk), robust=True)


def adjust_after_commit(reward_pk: int) -> None:
    from rewards.tasks import reward_adjust  # noqa: PLC0415 - rewards.tasks imports this module

    transaction.on_commit(lambda: reward_adjust.delay(reward_pk), robust=True)


def clawback_after_commit(reward_pk: int) -> None:
    from rewards.tasks import reward_clawback  # noqa: PLC0415 - rewards.tasks imports this module

    transaction.on_commit(lambda: reward_clawback.delay(reward_pk), robust=True)


def reward_reverse(*, reward: Reward, reason: str) -> None:
    """The qualifying payment was refunded or disputed: cancel inside the hold, claw back after.
    Call with the reward row locked."""
    previous = reward.status
    reward.reason = reason
    if previous == RewardStatus.CREDITED:
        reward.save(update_fields=["reason", "updated_at"])
        clawback_after_commit(reward.pk)
    elif previous == RewardStatus.CREDITING:
        # The run in flight (or, if it died, its retry) sees the reversal and claws back.
        reward.save(update_fields=["reason", "updated_at"])
    elif previous in (RewardStatus.PENDING, RewardStatus.ON_HOLD) and reward.attempts == 0:
        reward.status = RewardStatus.CANCELLED  # nothing ever reached Stripe
        reward.save(update_fields=["status", "reason", "updated_at"])
        reward_log(reward, RewardStatus.CANCELLED, reason, from_status=previous)
    elif previous not in FINAL_REWARD_STATUSES:
        # An earlier credit attempt failed, or seemed to: Stripe may have applied it anyway.
        # reward_credit asks Stripe, then cancels or records the credit and claws it back.
        reward.status = RewardStatus.FAILED
        reward.save(update_fields=["status", "reason", "updated_at"])
        reward_log(reward, RewardStatus.FAILED, reason, from_status=previous)
        credit_after_commit(reward.pk)


def rewards_release_due(*, limit: int = 500) -> int:
    """Queue the credit of every reward whose hold period is over."""
    due = list(
        Reward.objects.filter(status=RewardStatus.PENDING, hold_until__lte=timezone.now()).values_list("pk", flat=True)[
            :limit
        ]
    )
    # A credit still in flight this long was lost with its worker (see docs/architecture.md).
    stale = timezone.now() - datetime.timedelta(seconds=settings.REWARD_CREDITING_STALE_SECONDS)
    due += list(
        Reward.objects.filter(status=RewardStatus.CREDITING, updated_at__lt=stale).values_list("pk", flat=True)[:limit]
    )
    from rewards.tasks import reward_clawback, reward_credit  # noqa: PLC0415 - rewards.tasks imports this module

    for pk in due:
        reward_credit.delay(pk)
    # Percentage rewards are not in it: they shrink in proportion (reward_adjust), not whole.
    owed = list(
        Reward.objects.filter(
            status=RewardStatus.CREDITED, qualifying_payment__is_reversed=True, basis_points=0
        ).values_list("pk", flat=True)[:limit]
    )
    for pk in owed:  # clawbacks whose first queueing was lost or whose retries ran out
        reward_clawback.delay(pk)
    return len(due) + len(owed)


@transaction.atomic
def rewards_hold_shorten(*, actor: User | None = None) -> int:
    """After a rule changed: bring every reward still in its hold forward to what its rule's
    hold now gives (qualifying payment, or creation for a signup reward, + hold days) when that
    is sooner, and queue the credit of those now due. Never later: a date promised to a
    referrer is kept, and a longer hold applies to rewards earned from then on. Each change is
    in the reward's log."""
    now = timezone.now()
    waiting = (
        Reward.objects.select_for_update(of=("self",))
        .select_related("qualifying_payment", "rule")
        .filter(status__in=[RewardStatus.PENDING, RewardStatus.ON_HOLD], hold_until__gt=now)
    )
    shortened = 0
    for reward in waiting:
        start = reward.qualifying_payment.paid_at if reward.qualifying_payment else reward.created_at
        due = start + datetime.timedelta(days=reward.rule.hold_days)
        if due >= reward.hold_until:
            continue
        reward.hold_until = due
        reward.save(update_fields=["hold_until", "updated_at"])
        note = f"hold now {reward.rule.hold_days} days ({reward.rule.name}): due {due:%Y-%m-%d %H:%M} UTC"
        reward_log(reward, reward.status, note, actor=actor, from_status=reward.status)
        if reward.status == RewardStatus.PENDING and due <= now:
            credit_after_commit(reward.pk)
        shortened += 1
    return shortened


# --------------------------------------------------------------------------- staff review


@transaction.atomic
def reward_review(*, reward_pk: int, decision: str, actor: User, note: str = "") -> Reward:
    """Staff decisions from the admin: approve (release now), hold, reject, retry a failed credit."""
    reward = Reward.objects.select_for_update().get(pk=reward_pk)
    previous = reward.status
    if decision == "hold" and reward.status in (RewardStatus.PENDING, RewardStatus.FAILED):
        reward.status = RewardStatus.ON_HOLD
    elif decision == "reject" and reward.status in (RewardStatus.PENDING, RewardStatus.ON_HOLD, RewardStatus.FAILED):
        reward.status = RewardStatus.REJECTED
    elif decision in ("approve", "retry") and reward.status in (RewardStatus.ON_HOLD, RewardStatus.FAILED):
        reward.status = RewardStatus.PENDING
    else:
        raise ApplicationError(
            _("Cannot %(decision)s a reward that is %(status)s.")
            % {"decision": decision, "status": reward.get_status_display()},
            code="invalid_transition",
        )
    reward.reason = note or reward.reason
    reward.save(update_fields=["status", "reason", "updated_at"])
    reward_log(reward, reward.status, note or f"staff: {decision}", actor=actor, from_status=previous)
    if reward.status == RewardStatus.PENDING and reward.hold_until <= timezone.now():
        credit_after_commit(reward.pk)
    return reward
