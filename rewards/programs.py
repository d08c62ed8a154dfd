"""Reward programs as configuration: which program applies to a referral, which of its rules an
event triggers (tiers: the highest matching rule of a group wins), what a rule pays, and the
caps and budget that bound it. `rewards_for_event` is the one path every trigger takes
(signup, activation, first payment, every paid invoice); it creates rewards, never credits.

Exactly once: one reward per (rule, referral, occurrence, recipient) is a database rule, and
caps and budget are counted under a row lock on the program, so concurrent qualifications of
one program are applied one at a time."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from billing.models import Payment
from billing.services import payment_kept_cents, payment_void_reason
from dentaltap.formatting import money
from referrals import same_card
from referrals.models import Eligibility, Referral
from rewards.models import (
    CapPeriod,
    PartnerProgram,
    ProgramOverride,
    ReferralProgram,
    Reward,
    RewardRecipient,
    RewardRule,
    RewardStatus,
    RuleCondition,
    RuleDuration,
    RuleRecipient,
    RuleStructure,
    RuleTrigger,
)
from tenants.selectors import home_practice

# Rewards that no longer count against a cap or budget.
NOT_COUNTED = (RewardStatus.CANCELLED, RewardStatus.REJECTED, RewardStatus.CLAWED_BACK)
CAP_PERIOD_DAYS: dict[str, int] = {
    CapPeriod.MONTH: 30,
    CapPeriod.YEAR: 365,
}  # rolling windows, as the yearly cap always was
# Named in the three languages dentists read (rewards 0011 names an existing house program so).
HOUSE_PROGRAM = {
    "name": "Referral credit",
    "name_ru": "Бонус за рекомендацию",
    "name_de": "Empfehlungsguthaben",
    "currency": "usd",
}
HOUSE_RULE = {
    "name": "$50 to the referrer after the first payment",
    "name_ru": "50\u00a0$ рекомендателю после первой оплаты",
    "name_de": "50\u00a0$ für den Empfehlungsgeber nach der ersten Zahlung",
    "trigger": RuleTrigger.FIRST_PAYMENT,
    "recipient": RuleRecipient.REFERRER,
    "structure": RuleStructure.FLAT,
    "amount_cents": 5000,
    "hold_days": 14,
    "cap_period": CapPeriod.YEAR,
    "cap_count": 20,
}


def program_default_ensure() -> None:
    """A database with no default program at all (a new install) gets the house program: $50 to
    the referrer after the first payment. Staff who end or deactivate it get no other."""
    if ReferralProgram.objects.filter(is_default=True).exists():
        return
    try:
        with transaction.atomic():
            program = ReferralProgram.objects.create(
                is_default=True, starts_at=timezone.now() - datetime.timedelta(days=3650), **HOUSE_PROGRAM
            )
            RewardRule.objects.create(program=program, **HOUSE_RULE)
    except IntegrityError:  # created by a concurrent call (one default at a time: the database rule)
        pass


def program_for(
    *, referrer_id: int, partner_id: int | None = None, at: datetime.datetime | None = None
) -> ReferralProgram | None:
    """The program a referral earns under at a moment: for a practice a partner code brought,
    the partner's program while it runs; else the referrer's override while it runs; else the
    default program running then."""
    at = at or timezone.now()
    if partner_id is not None:
        link = PartnerProgram.objects.select_related("program").filter(partner_id=partner_id).first()
        if link is not None and link.program.runs_at(at):
            return link.program
    override = ProgramOverride.objects.select_related("program").filter(referrer_id=referrer_id).first()
    if override is not None and override.program.runs_at(at):
        return override.program
    running = ReferralProgram.objects.filter(is_default=True, is_active=True, starts_at__lte=at).filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=at)
    )
    default = running.first()
    if default is None:  # none running, maybe none at all (a new install): ensure the house program
        program_default_ensure()
        default = running.first()
    return default


def paid_referrals_count(*, referrer_id: int) -> int:
    """The referrer's referrals whose practice has a payment that stands (this one included)."""
    return (
        Referral.objects.filter(referrer_id=referrer_id, referred_practice__payments__is_reversed=False)
        .values("pk")
        .distinct()
        .count()
    )


def _condition_matches(rule: RewardRule, paid: int) -> bool:
    if rule.condition == RuleCondition.NTH_PAID:
        return paid == rule.threshold
    if rule.condition == RuleCondition.AT_LEAST_PAID:
        return paid >= (rule.threshold or 0)
    return True


def rules_matching(*, rules: list[RewardRule], trigger: str, paid: int) -> list[RewardRule]:
    """The rules an event triggers: of each tier group, the matching rule with the highest
    threshold; a rule without a group stands alone."""
    chosen: dict[str, RewardRule] = {}
    for rule in rules:
        if rule.trigger != trigger or not rule.is_active or not _condition_matches(rule, paid):
            continue
        group = rule.tier_group or f"rule:{rule.pk}"
        current = chosen.get(group)
        if current is None or (rule.threshold or 0) > (current.threshold or 0):
            chosen[group] = rule
    return sorted(chosen.values(), key=lambda rule: rule.pk)


def _occurrence(rule: RewardRule, payment: Payment | None) -> str | None:
    """Which occurrence of its event a payment is for this rule; None: outside its duration."""
    if rule.trigger != RuleTrigger.PAID_INVOICE or rule.duration == RuleDuration.ONCE or payment is None:
        return "once"
    if rule.duration == RuleDuration.MONTHS:
        first = Payment.objects.filter(practice_id=payment.practice_id).order_by("paid_at", "pk").first()
        start = first.paid_at if first is not None else payment.paid_at
        if payment.paid_at >= _months_after(start, rule.duration_months or 0):
            return None
    return f"payment:{payment.pk}"


def _months_after(moment: datetime.datetime, months: int) -> datetime.datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, [31, 29 if year % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1])
    return moment.replace(year=year, month=month, day=day)


def _capped(
    rule: RewardRule, program: ReferralProgram, referral: Referral, recipient: str, amount: int
) -> tuple[int, str]:
    """(what the rule may still pay, why less): caps per referrer per period, then the budget."""
    counted = Reward.objects.filter(rule=rule, referrer_id=referral.referrer_id, recipient=recipient).exclude(
        status__in=NOT_COUNTED
    )
    days = CAP_PERIOD_DAYS.get(rule.cap_period)
    if days is not None:
        counted = counted.filter(created_at__gte=timezone.now() - datetime.timedelta(days=days))
    period = str(CapPeriod(rule.cap_period).label).lower()
    if rule.cap_count is not None and counted.count() >= rule.cap_count:
        return 0, ngettext(
            "Limit of %(cap)d reward per referrer per %(period)s reached.",
            "Limit of %(cap)d rewards per referrer per %(period)s reached.",
            rule.cap_count,
        ) % {"cap": rule.cap_count, "period": period}
    reason = ""
    if rule.cap_amount_cents is not None and rule.pays_money:
        left = rule.cap_amount_cents - (counted.aggregate(total=Sum("amount_cents"))["total"] or 0)
        if left < amount:
            amount, reason = (
                max(left, 0),
                _("Limit of %(cap)s per referrer per %(period)s reached.")
                % {
                    "cap": money(rule.cap_amount_cents, program.currency),
                    "period": period,
                },
            )
    if program.budget_cents is not None and rule.pays_money and amount > 0:
        spent = (
            Reward.objects.filter(program=program)
            .exclude(status__in=NOT_COUNTED)
            .aggregate(total=Sum("amount_cents"))["total"]
            or 0
        )
        left = program.budget_cents - spent
        if left < amount:
            amount, reason = max(left, 0), _("The program's budget is spent.")
    return amount, reason


@dataclass(frozen=True)
class Recipient:
    kind: str
    user_id: int | None
    practice_id: int


def _recipients(rule: RewardRule, referral: Referral) -> list[Recipient]:
    sides = []
    if rule.recipient in (RuleRecipient.REFERRER, RuleRecipient.BOTH):
        practice = home_practice(user=referral.referrer)
        if practice is not None:
            sides.append(Recipient(RewardRecipient.REFERRER, referral.referrer_id, practice.pk))
    if rule.recipient in (RuleRecipient.REFERRED, RuleRecipient.BOTH) and referral.referred_practice_id:
        sides.append(Recipient(RewardRecipient.REFERRED, referral.referred_user_id, referral.referred_practice_id))
    return sides


def rewards_for_event(  # noqa: PLR0912 - one branch per refusal, in order
    *, referral: Referral, trigger: str, payment: Payment | None = None
) -> list[str]:
    """Create what the referral's program pays for one event; notes for the Stripe inbox. Call
    inside a transaction. Credits are queued after commit for rewards already due."""
    from rewards.services import credit_after_commit, reward_log  # noqa: PLC0415 - services imports this module

    if referral.eligibility == Eligibility.INELIGIBLE:
        return [f"referral not eligible ({referral.eligibility_reason})"]
    partner_id = referral.partner_code.batch.partner_id if referral.partner_code_id else None  # type: ignore[union-attr]
    program = program_for(referrer_id=referral.referrer_id, partner_id=partner_id)
    if program is None:
        return ["no program runs now"]
    program = ReferralProgram.objects.select_for_update().get(pk=program.pk)  # caps and budget, one at a time
    rules = rules_matching(
        rules=list(program.rules.all()), trigger=trigger, paid=paid_referrals_count(referrer_id=referral.referrer_id)
    )
    if not rules:
        return [f"{program.name}: no rule for {trigger}"]
    if payment is not None and same_card.same_card_flag(referral=referral):  # the card was reported before
        referral.refresh_from_db()
    void_reason = payment_void_reason(payment) if payment is not None else ""
    net_paid = payment_kept_cents(payment) if payment is not None else 0
    moment = payment.paid_at if payment is not None else timezone.now()
    notes = []
    for rule in rules:
        occurrence = _occurrence(rule, payment)
        if occurrence is None:
            notes.append(f"{rule.name}: outside its {rule.duration_months} months")
            continue
        for recipient in _recipients(rule, referral):
            if Reward.objects.filter(
                rule=rule, referral=referral, occurrence=occurrence, recipient=recipient.kind
            ).exists():
                notes.append(f"{rule.name}: already rewarded")
                continue
            amount = rule.amount_for(net_paid)
            if rule.pays_money and amount <= 0:
                notes.append(f"{rule.name}: nothing to pay")
                continue
            status, reason = RewardStatus.PENDING, ""
            if referral.eligibility == Eligibility.REVIEW:
                status = RewardStatus.ON_HOLD
                reason = _("Held for review: %(why)s") % {"why": referral.get_eligibility_reason_display()}
            allowed, cap_reason = _capped(rule, program, referral, recipient.kind, amount)
            if rule.pays_money and allowed < amount:
                amount = allowed
            if cap_reason and (allowed <= 0 or not rule.pays_money):
                status, reason = RewardStatus.CANCELLED, cap_reason
                amount = amount or rule.amount_for(net_paid)
            if void_reason and rule.structure != RuleStructure.PERCENT:  # a share shrinks, never voids
                status, reason = RewardStatus.CANCELLED, void_reason
            try:
                with transaction.atomic():
                    reward = Reward.objects.create(
                        referral=referral,
                        referrer_id=referral.referrer_id,
                        recipient=recipient.kind,
                        recipient_user_id=recipient.user_id,
                        beneficiary_practice_id=recipient.practice_id,
                        qualifying_payment=payment,
                        program=program,
                        rule=rule,
                        occurrence=occurrence,
                        amount_cents=amount if rule.pays_money else 0,
                        points=rule.points if not rule.pays_money else 0,
                        basis_points=rule.basis_points if rule.structure == RuleStructure.PERCENT else 0,
                        currency=program.currency,
                        payout=rule.payout,
                        status=status,
                        reason=reason or cap_reason,
                        hold_until=moment + datetime.timedelta(days=rule.hold_days),
                    )
            except IntegrityError:
                notes.append(f"{rule.name}: already rewarded")
                continue
            reward_log(reward, status, reason or cap_reason or f"qualified by {trigger} ({rule.name})")
            if status == RewardStatus.PENDING and reward.hold_until <= timezone.now():
                credit_after_commit(reward.pk)
            notes.append(f"reward {reward.pk} {status} ({rule.name}, {recipient.kind})")
    return notes


# --------------------------------------------------------------------------- words and preview


def rule_pays_in_words(rule: RewardRule, *, currency: str = "usd") -> str:
    """What a rule pays and when, in plain words for the referrer's dashboard."""
    if rule.structure == RuleStructure.FLAT:
        value = money(rule.amount_cents, currency)
    elif rule.structure == RuleStructure.PERCENT:
        value = _("%(percent)s%% of what they pay") % {"percent": f"{rule.basis_points / 100:g}"}
    else:
        value = _("%(points)d points") % {"points": rule.points}
    who = {
        RuleRecipient.REFERRER: _("you get %(value)s"),
        RuleRecipient.REFERRED: _("the practice you refer gets %(value)s"),
        RuleRecipient.BOTH: _("you and the practice you refer each get %(value)s"),
    }[RuleRecipient(rule.recipient)] % {"value": value}
    when = {
        RuleTrigger.SIGNUP: _("when a practice signs up through your link"),
        RuleTrigger.ACTIVATION: _("when a practice you referred starts using DentalTap"),
        RuleTrigger.FIRST_PAYMENT: _("when a practice you referred pays its first invoice"),
        RuleTrigger.PAID_INVOICE: _("for every invoice a practice you referred pays"),
    }[RuleTrigger(rule.trigger)]
    if rule.duration == RuleDuration.MONTHS:
        when = _("%(when)s, for %(months)d months") % {"when": when, "months": rule.duration_months}
    tier = ""
    if rule.condition == RuleCondition.NTH_PAID:
        tier = _(" (your paid referral number %(n)d)") % {"n": rule.threshold}
    elif rule.condition == RuleCondition.AT_LEAST_PAID:
        tier = _(" (from your paid referral number %(n)d on)") % {"n": rule.threshold}
    hold = (
        ngettext(", credited %(days)d day later", ", credited %(days)d days later", rule.hold_days)
        % {"days": rule.hold_days}
        if rule.hold_days
        else ""
    )
    sentence = _("%(who)s %(when)s%(tier)s%(hold)s.") % {"who": who, "when": when, "tier": tier, "hold": hold}
    return sentence[:1].upper() + sentence[1:]


@dataclass(frozen=True)
class RulePreview:
    recipient: str
    amount_cents: int
    points: int
    words: str


def rule_preview(*, rule: RewardRule, paid_cents: int) -> list[RulePreview]:
    """What the rule pays for one payment of paid_cents (before caps and budget), per side."""
    sides = (
        [RuleRecipient.REFERRER, RuleRecipient.REFERRED] if rule.recipient == RuleRecipient.BOTH else [rule.recipient]
    )
    currency = rule.program.currency
    previews = []
    for side in sides:
        amount = rule.amount_for(paid_cents)
        value = money(amount, currency) if rule.pays_money else _("%(points)d points") % {"points": rule.points}
        words = _("For a %(paid)s invoice the %(side)s gets %(value)s.") % {
            "paid": money(paid_cents, currency),
            "side": str(RuleRecipient(side).label).lower(),
            "value": value,
        }
        previews.append(RulePreview(recipient=str(side), amount_cents=amount, points=rule.points, words=words))
    return previews
