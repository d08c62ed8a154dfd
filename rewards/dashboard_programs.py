"""*My referrals*, per program: what the user earns and when (the rules in plain words, the
admin's preview words), pending and earned, tier progress ("2 of 3 paid referrals to the next
bonus", the top tier shown as reached), a cap reached shown as the maximum; their points and
what they can redeem; and, for a dentist who was referred, what they received (the two-sided
half).

Keyed on the user, never on a practice, like the rest of the dashboard. Every figure is a small
grouped query on the user's own rows (`reward_referrer_idx`, the points ledger's user index,
the rewards' recipient index), whatever the number of referrals."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dentaltap.translated import translated
from rewards import points, programs
from rewards.dashboard_figures import PENDING_REWARD_STATUSES
from rewards.models import (
    CapPeriod,
    CatalogueItem,
    ReferralProgram,
    Reward,
    RewardRecipient,
    RewardRule,
    RewardStatus,
    RuleCondition,
)
from rewards.selectors import reward_reason_for_customer
from tenants.models import User


@dataclass(frozen=True)
class TierStep:
    threshold: int
    words: str
    reached: bool


@dataclass(frozen=True)
class TierProgress:
    """Progress along a program's milestone tiers, counted as the rules count them (the
    referrer's paid referrals whose payment stands)."""

    paid: int
    next_threshold: int | None
    percent: int
    words: str
    maximum_reached: bool
    steps: list[TierStep]


@dataclass(frozen=True)
class ProgramPanel:
    program_id: int
    name: str
    currency: str
    is_current: bool
    rules: list[str]
    pending_count: int
    pending_cents: int
    pending_points: int
    earned_count: int
    earned_cents: int
    earned_points: int
    tiers: TierProgress | None
    maximums: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PointsPanel:
    balance: int
    below_zero: bool
    words: str
    affordable: list[CatalogueItem]
    next_item: CatalogueItem | None


@dataclass(frozen=True)
class ReceivedRow:
    """A reward the user received as the referred side of a two-sided program."""

    id: int
    created_at: datetime.datetime
    value: str
    status: str
    status_label: str
    reason: str
    referrer_name: str


def tier_progress(*, rules: list[RewardRule], paid: int) -> TierProgress | None:
    """Where `paid` stands among the thresholds of the program's tier rules; None: no tiers."""
    tiers = sorted(
        (rule for rule in rules if rule.is_active and rule.condition != RuleCondition.NONE and rule.threshold),
        key=lambda rule: (rule.threshold or 0, rule.pk),
    )
    if not tiers:
        return None
    steps = [
        TierStep(
            threshold=rule.threshold or 0,
            words=programs.rule_pays_in_words(rule, currency=rule.program.currency),
            reached=paid >= (rule.threshold or 0),
        )
        for rule in tiers
    ]
    upcoming = [step.threshold for step in steps if step.threshold > paid]
    if not upcoming:
        top = steps[-1].threshold
        words = ngettext(
            "Top tier reached: %(paid)d paid referral (the highest tier is %(top)d).",
            "Top tier reached: %(paid)d paid referrals (the highest tier is %(top)d).",
            paid,
        ) % {"paid": paid, "top": top}
        return TierProgress(paid=paid, next_threshold=None, percent=100, words=words, maximum_reached=True, steps=steps)
    target = upcoming[0]
    words = ngettext(
        "%(paid)d of %(next)d paid referral to the next bonus.",
        "%(paid)d of %(next)d paid referrals to the next bonus.",
        target,
    ) % {"paid": paid, "next": target}
    return TierProgress(
        paid=paid,
        next_threshold=target,
        percent=min(100, paid * 100 // target),
        words=words,
        maximum_reached=False,
        steps=steps,
    )


def _maximums(*, rules: list[RewardRule], counted: dict[tuple[int, int | None], int]) -> list[str]:
    """The rules whose cap on rewards per referrer this user has reached (Dropbox's 32 GB).
    `counted`: the user's counted rewards per (rule, days of the cap's window; None: lifetime)."""
    reached = []
    for rule in rules:
        if not rule.is_active or rule.cap_count is None:
            continue
        if counted.get((rule.pk, programs.CAP_PERIOD_DAYS.get(rule.cap_period)), 0) < rule.cap_count:
            continue
        if rule.cap_period == CapPeriod.LIFETIME:
            words = ngettext(
                "Maximum reached: %(rule)s pays at most %(cap)d reward per referrer.",
                "Maximum reached: %(rule)s pays at most %(cap)d rewards per referrer.",
                rule.cap_count,
            ) % {"rule": translated(rule), "cap": rule.cap_count}
        else:
            words = ngettext(
                "Maximum reached: %(rule)s pays at most %(cap)d reward per referrer a %(period)s.",
                "Maximum reached: %(rule)s pays at most %(cap)d rewards per referrer a %(period)s.",
                rule.cap_count,
            ) % {
                "rule": translated(rule),
                "cap": rule.cap_count,
                "period": str(CapPeriod(rule.cap_period).label).lower(),
            }
        reached.append(words)
    return reached


_FIGURES = ("pending_count", "pending_cents", "pending_points", "earned_count", "earned_cents", "earned_points")
_CAP_WINDOWS = sorted(set(programs.CAP_PERIOD_DAYS.values()))  # days of the rolling caps
# Pending and earned per (program, rule), and what each rule's cap counts, lifetime and per
# window: one grouped statement on `reward_referrer_idx` (SQL: the ORM spent longer compiling
# its nine filtered aggregates than the database spent running them).
_REWARD_FIGURES_SQL = """
SELECT program_id, rule_id,
    count(*) FILTER (WHERE status = ANY(%(pending)s)),
    coalesce(sum(amount_cents) FILTER (WHERE status = ANY(%(pending)s)), 0),
    coalesce(sum(points) FILTER (WHERE status = ANY(%(pending)s)), 0),
    count(*) FILTER (WHERE status = %(credited)s),
    coalesce(sum(amount_cents) FILTER (WHERE status = %(credited)s), 0),
    coalesce(sum(points) FILTER (WHERE status = %(credited)s), 0),
    count(*) FILTER (WHERE status <> ALL(%(not_counted)s)),
    {windows}
FROM rewards_reward WHERE referrer_id = %(user)s AND recipient = %(referrer)s
GROUP BY program_id, rule_id
""".format(
    windows=",\n    ".join(
        f"count(*) FILTER (WHERE status <> ALL(%(not_counted)s) AND created_at >= %(since_{days})s)"
        for days in _CAP_WINDOWS
    )
)


def _reward_figures(*, user: User) -> tuple[dict[int, dict[str, int]], dict[tuple[int, int | None], int]]:
    """The user's rewards as the referrer, one grouped statement: pending and earned per
    program, and the rewards each rule's cap counts (not cancelled, rejected or clawed back) per
    (rule, window in days; None: lifetime), as programs._capped counts them."""
    now = timezone.now()
    params: dict[str, Any] = {
        "user": user.pk,
        "referrer": RewardRecipient.REFERRER,
        "pending": [str(status) for status in PENDING_REWARD_STATUSES],
        "credited": RewardStatus.CREDITED,
        "not_counted": [str(status) for status in programs.NOT_COUNTED],
        **{f"since_{days}": now - datetime.timedelta(days=days) for days in _CAP_WINDOWS},
    }
    with connection.cursor() as cursor:
        cursor.execute(_REWARD_FIGURES_SQL, params)
        rows = cursor.fetchall()
    by_program: dict[int, dict[str, int]] = {}
    counted: dict[tuple[int, int | None], int] = {}
    for program_id, rule_id, *values in rows:
        figures = by_program.setdefault(program_id, dict.fromkeys(_FIGURES, 0))
        for name, value in zip(_FIGURES, values, strict=False):
            figures[name] += int(value)
        for days, value in zip([None, *_CAP_WINDOWS], values[len(_FIGURES) :], strict=True):
            counted[(rule_id, days)] = counted.get((rule_id, days), 0) + value
    return by_program, counted


def program_panels(*, user: User, paid: int | None = None) -> list[ProgramPanel]:
    """The program the user earns under now, then every other program that rewarded them.
    `paid`: the user's paid referrals (the funnel's paid conversions: the same count the tier
    rules make), when the caller has it. The rewards' figures are one grouped query, the rules
    one more."""
    current = programs.program_for(referrer_id=user.pk)
    figures, counted = _reward_figures(user=user)
    others = sorted(set(figures) - {current.pk if current else None})
    loaded = {program.pk: program for program in ReferralProgram.objects.filter(pk__in=others)} if others else {}
    if current is not None:
        loaded[current.pk] = current
    prefetch_related_objects(list(loaded.values()), "rules")  # each rule's program set by the prefetch
    ids = ([current.pk] if current is not None else []) + others
    if not ids:
        return []
    if paid is None:
        paid = programs.paid_referrals_count(referrer_id=user.pk)
    panels = []
    for program_id in ids:
        program = loaded[program_id]
        rules = sorted(program.rules.all(), key=lambda rule: (rule.threshold or 0, rule.pk))
        row = figures.get(program_id, {})
        is_current = current is not None and program_id == current.pk
        panels.append(
            ProgramPanel(
                program_id=program_id,
                name=translated(program),
                currency=program.currency,
                is_current=is_current,
                rules=[  # the tiers' rules are the tier steps
                    programs.rule_pays_in_words(rule, currency=program.currency)
                    for rule in rules
                    if rule.is_active and rule.condition == RuleCondition.NONE
                ]
                if is_current
                else [],
                pending_count=row.get("pending_count", 0),
                pending_cents=row.get("pending_cents", 0),
                pending_points=row.get("pending_points", 0),
                earned_count=row.get("earned_count", 0),
                earned_cents=row.get("earned_cents", 0),
                earned_points=row.get("earned_points", 0),
                tiers=tier_progress(rules=rules, paid=paid) if is_current else None,
                maximums=_maximums(rules=rules, counted=counted) if is_current else [],
            )
        )
    return panels


def points_panel(*, user: User, balance: int | None = None) -> PointsPanel:
    """The user's points, what they can redeem now and what comes next. A balance below zero
    (a points reward reversed after its points were spent) is said as such. `balance`: the
    user's points balance, when the caller has it (dashboard_figures.referrer_figures)."""
    if balance is None:
        balance = points.points_balance(user=user)
    catalogue = points.catalogue_available()
    affordable = [item for item in catalogue if item.cost_points <= balance]
    dearer = [item for item in catalogue if item.cost_points > balance]
    if balance < 0:
        words = ngettext(
            "Your balance is %(points)d point below zero: a referral's payment was refunded after its "
            "points were spent. The next points you earn pay this back first.",
            "Your balance is %(points)d points below zero: a referral's payment was refunded after its "
            "points were spent. The next points you earn pay this back first.",
            -balance,
        ) % {"points": -balance}
    elif affordable:
        words = ngettext(
            "You can redeem %(count)d reward now.", "You can redeem %(count)d rewards now.", len(affordable)
        ) % {"count": len(affordable)}
    elif dearer:
        missing = dearer[0].cost_points - balance
        words = ngettext("%(missing)d more point for %(item)s.", "%(missing)d more points for %(item)s.", missing) % {
            "missing": missing,
            "item": translated(dearer[0]),
        }
    else:
        words = _("Nothing to redeem in the catalogue at the moment.")
    return PointsPanel(
        balance=balance,
        below_zero=balance < 0,
        words=words,
        affordable=affordable,
        next_item=dearer[0] if dearer else None,
    )


def received_rows(*, user: User, limit: int = 20) -> list[ReceivedRow]:
    """What the user received for being referred (the referred side of two-sided rules)."""
    rewards = (
        Reward.objects.filter(recipient_user=user, recipient=RewardRecipient.REFERRED)
        .select_related("rule", "qualifying_payment", "referrer")
        .order_by("-created_at", "-pk")[:limit]
    )
    status_labels = dict(RewardStatus.choices)
    return [
        ReceivedRow(
            id=reward.pk,
            created_at=reward.created_at,
            value=reward.value_label,
            status=reward.status,
            status_label=str(status_labels.get(reward.status, reward.status)),
            reason=reward_reason_for_customer(reward),
            referrer_name=reward.referrer.full_name or _("a colleague"),
        )
        for reward in rewards
    ]
