"""Staff analytics by program and by rule: signups, paid, rewards, reward cost, points, the
revenue of the referred practices and ROI, over the page's date range.

**Which program a referral belongs to**: the one that applied to its referrer when it signed
up, by the rule `rewards.programs.program_for` follows at every event (for a practice a partner
code brought, the partner's program while it runs; else the referrer's override while its
program runs; else the default program running then). A referral rewarded later
under another program (staff ended one program and started the next) counts its signup and
revenue under the first and its cost under the one that paid; the page says so.

**Cost** is the ledger's (credits minus clawbacks and adjustments, by entry date) per reward's
program and rule; points are counted apart (net points issued: what they cost is what the
catalogue hands out for them, not cents). **A rule's revenue** is the revenue of the practices
it rewarded: a practice rewarded by two rules counts in both, so the rules' revenues do not add
up to their program's.

**What the page pays for it**: the rewards, the ledger, the points and the referrals of
override referrers and partner codes are small sets (one grouped query each); signups per default program reuse
the range's cohort totals when the program ran through the whole range (else one index-only
range count on `referral_cohort_idx`); the revenue goes from the referred practices to their
standing payments once (`payment_standing_practice_idx`), grouped by program and by rule in the
same statement, and its total is the economics' referred revenue (no second pass).

**Breakdowns** are keyed (`BREAKDOWNS`: "program", "partner", "rule"); the page and the API
show them in that order. **By partner** (rows laid out in `rows.partner_rows`, the rule written
there): the partner a referral is attributed to (`pb.partner_id`: its partner code's batch) is
one more group of the signups statement of override and partner-coded referrals (the rest, the
range's totals less those, is "No partner"), one more branch of the revenue statement
(`_REVENUE_SQL`, the same materialized revenue: no second pass over payments), and one more
group-by column of the ledger, affiliate, points and reward counts. Nothing else is queried."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, F, Q, Sum
from django.utils.translation import gettext_lazy

from billing.models import LedgerEntry, LedgerKind
from referrals.models import Referral
from rewards.analytics.ranges import DateRange
from rewards.analytics.rows import ChannelRow, PartnerFacts, partner_rows, roi
from rewards.models import REWARD_KINDS, AffiliateEntry, PointsEntry, ReferralProgram, Reward, RewardRule, RewardStatus

BREAKDOWNS = {
    "program": gettext_lazy("By program"),
    "partner": gettext_lazy("By partner"),
    "rule": gettext_lazy("By rule"),
}
NO_PROGRAM = "none"
# The partner a reward's referral is attributed to: its partner code's batch's (None: none).
_PARTNER = "referral__partner_code__batch__partner_id"
# Rewards that were never owed (a cap, a budget, a refund before the hold ended, staff): not
# counted as rewards of a rule (they cost nothing).
NOT_OWED = (RewardStatus.CANCELLED, RewardStatus.REJECTED)

# The program that applied to a referral at a moment (`programs.program_for`), in SQL: for a
# practice a partner code brought, the partner's program while it runs; else the referrer's
# override's while it runs; else the default program running then (default programs never
# overlap: a database rule, so one row at most). Joins on small tables, not a subquery per row.
# `{row}` names the relation with the referrer_id, partner_code_id and created_at.
_PROGRAM_JOINS = """
    LEFT JOIN referrals_partnercode pc ON pc.id = {row}.partner_code_id
    LEFT JOIN referrals_partnercodebatch pb ON pb.id = pc.batch_id
    LEFT JOIN rewards_partnerprogram pl ON pl.partner_id = pb.partner_id
    LEFT JOIN rewards_referralprogram pp ON pp.id = pl.program_id AND pp.is_active
        AND pp.starts_at <= {row}.created_at AND (pp.ends_at IS NULL OR {row}.created_at < pp.ends_at)
    LEFT JOIN rewards_programoverride o ON o.referrer_id = {row}.referrer_id
    LEFT JOIN rewards_referralprogram op ON op.id = o.program_id AND op.is_active
        AND op.starts_at <= {row}.created_at AND (op.ends_at IS NULL OR {row}.created_at < op.ends_at)
    LEFT JOIN rewards_referralprogram dp ON dp.is_default AND dp.is_active
        AND dp.starts_at <= {row}.created_at AND (dp.ends_at IS NULL OR {row}.created_at < dp.ends_at)"""

_OVERRIDE_SIGNUPS_SQL = f"""
SELECT COALESCE(pp.id, op.id, dp.id), dp.id, pb.partner_id, count(*), count(r.converted_at)
FROM referrals_referral r {_PROGRAM_JOINS.format(row="r")}
WHERE (r.referrer_id IN (SELECT referrer_id FROM rewards_programoverride) OR r.partner_code_id IS NOT NULL)
  AND r.created_at >= %(start)s AND r.created_at < %(end)s
GROUP BY 1, 2, 3
"""  # noqa: S608 - only this module's constant SQL is formatted in; values are parameters

# From each referred practice's first referral (its referrer and signup time: the program) to
# its standing payments in the range: a LATERAL sum, so one index-only probe of
# payment_standing_practice_idx per referred practice, as the economics always did (a plain
# join lets the planner hash every payment of the range). Then grouped by program, by the
# partner whose code attributed the practice (NULL: none), and by the rules that rewarded it.
_REVENUE_SQL = f"""
WITH revenue AS MATERIALIZED (
    SELECT f.id AS referral_id, f.practice_id, f.referrer_id, f.partner_code_id, f.created_at, paid.cents
    FROM (
        SELECT DISTINCT ON (referred_practice_id)
               id, referred_practice_id AS practice_id, referrer_id, partner_code_id, created_at
        FROM referrals_referral WHERE referred_practice_id IS NOT NULL
        ORDER BY referred_practice_id, created_at, id
    ) AS f
    CROSS JOIN LATERAL (
        SELECT sum(p.amount_cents) AS cents FROM billing_payment p
        WHERE p.practice_id = f.practice_id AND NOT p.is_reversed AND p.paid_at >= %(start)s AND p.paid_at < %(end)s
    ) AS paid
    WHERE paid.cents IS NOT NULL
)
SELECT 'program', COALESCE(pp.id, op.id, dp.id), sum(revenue.cents), count(*)
FROM revenue {_PROGRAM_JOINS.format(row="revenue")}
GROUP BY 2
UNION ALL
SELECT 'partner', pb.partner_id, sum(revenue.cents), count(*)
FROM revenue
    LEFT JOIN referrals_partnercode pc ON pc.id = revenue.partner_code_id
    LEFT JOIN referrals_partnercodebatch pb ON pb.id = pc.batch_id
GROUP BY 2
UNION ALL
SELECT 'rule', rewarded.rule_id, sum(rewarded.cents), count(*)
FROM (
    SELECT DISTINCT w.rule_id, revenue.practice_id, revenue.cents
    FROM revenue JOIN rewards_reward w ON w.referral_id = revenue.referral_id
    WHERE w.status NOT IN ('cancelled', 'rejected')
) AS rewarded
GROUP BY 2
"""  # noqa: S608 - only this module's constant SQL is formatted in; values are parameters


@dataclass
class _Facts:
    signups: dict[int | None, tuple[int, int]] = field(default_factory=dict)
    cost: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))
    points: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))
    rewards: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    rewarded_by_program: dict[int, int] = field(default_factory=dict)
    revenue: dict[str, dict[int | None, tuple[int, int]]] = field(
        default_factory=lambda: {"program": {}, "partner": {}, "rule": {}}
    )
    # Per partner (None: no partner): the same rows as above, grouped by the referral's partner too.
    partner_signups: dict[int | None, tuple[int, int]] = field(default_factory=dict)
    partner_cost: dict[int | None, int] = field(default_factory=lambda: defaultdict(int))
    partner_points: dict[int | None, int] = field(default_factory=lambda: defaultdict(int))
    partner_rewards: dict[int | None, tuple[int, int]] = field(default_factory=dict)


def _clip(program: ReferralProgram, period_range: DateRange) -> tuple[datetime.datetime, datetime.datetime] | None:
    start = max(program.starts_at, period_range.start_at)
    end = min(program.ends_at, period_range.end_before) if program.ends_at else period_range.end_before
    return (start, end) if start < end else None


def program_signups(
    *, period_range: DateRange, programs: list[ReferralProgram], totals: tuple[int, int] | None = None
) -> dict[int | None, tuple[int, int]]:
    """(signups, paid) per program for the referrals created in the range; None: under no
    program. `totals`: the range's (signups, paid), when the caller counted them already."""
    return _signups(period_range=period_range, programs=programs, totals=totals)[0]


def _signups(
    *, period_range: DateRange, programs: list[ReferralProgram], totals: tuple[int, int] | None
) -> tuple[dict[int | None, tuple[int, int]], dict[int | None, tuple[int, int]]]:
    """(signups, paid) per program and per partner (None: none); the partner-coded referrals
    are among the override statement's rows, so the partners cost no statement of their own."""
    params = {"start": period_range.start_at, "end": period_range.end_before}
    with connection.cursor() as cursor:
        cursor.execute(_OVERRIDE_SIGNUPS_SQL, params)
        override_rows = cursor.fetchall()
    attributed: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
    override_in_default: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
    by_partner: dict[int | None, tuple[int, int]] = {}
    for program_id, default_id, partner_id, signups, paid in override_rows:
        if partner_id is not None:
            before_partner = by_partner.get(partner_id, (0, 0))
            by_partner[partner_id] = (before_partner[0] + signups, before_partner[1] + paid)
        attributed[program_id][0] += signups
        attributed[program_id][1] += paid
        override_in_default[default_id][0] += signups
        override_in_default[default_id][1] += paid

    def count(start: datetime.datetime, end: datetime.datetime) -> tuple[int, int]:
        row = Referral.objects.filter(created_at__gte=start, created_at__lt=end).aggregate(
            signups=Count("created_at"), paid=Count("created_at", filter=Q(converted_at__isnull=False))
        )
        return row["signups"], row["paid"]

    whole = (period_range.start_at, period_range.end_before)
    if totals is None:
        totals = count(*whole)
    result: dict[int | None, tuple[int, int]] = {}
    for program in programs:
        if not (program.is_default and program.is_active):
            continue
        window = _clip(program, period_range)
        if window is None:
            continue
        signups, paid = totals if window == whole else count(*window)
        result[program.pk] = (
            signups - override_in_default[program.pk][0],
            paid - override_in_default[program.pk][1],
        )
    for program_id, (signups, paid) in attributed.items():
        if program_id is None:
            continue
        before = result.get(program_id, (0, 0))
        result[program_id] = (before[0] + signups, before[1] + paid)
    counted = (sum(value[0] for value in result.values()), sum(value[1] for value in result.values()))
    if totals[0] - counted[0]:
        result[None] = (totals[0] - counted[0], totals[1] - counted[1])
    partnered = (sum(value[0] for value in by_partner.values()), sum(value[1] for value in by_partner.values()))
    if totals[0] - partnered[0]:
        by_partner[None] = (totals[0] - partnered[0], totals[1] - partnered[1])
    return result, by_partner


def _facts(*, period_range: DateRange, programs: list[ReferralProgram], totals: tuple[int, int] | None) -> _Facts:
    by_program, by_partner = _signups(period_range=period_range, programs=programs, totals=totals)
    facts = _Facts(signups=by_program, partner_signups=by_partner)
    in_range = {"created_at__gte": period_range.start_at, "created_at__lt": period_range.end_before}
    # Every row is grouped by the rewarded referral's partner too (a left join on two small
    # tables): the breakdown by partner adds up the same rows, no statement of its own.
    for row in (
        LedgerEntry.objects.filter(reward__isnull=False, **in_range)
        .values("reward__program_id", "reward__rule_id", partner=F(f"reward__{_PARTNER}"))
        .annotate(
            net=Sum(
                "amount_cents",
                filter=Q(kind__in=[LedgerKind.REWARD_CREDIT, LedgerKind.REWARD_CLAWBACK, LedgerKind.REWARD_ADJUSTMENT]),
            )
        )
        .order_by()
    ):
        facts.cost[(row["reward__program_id"], row["reward__rule_id"])] += row["net"] or 0
        facts.partner_cost[row["partner"]] += row["net"] or 0
    # A revenue share paid in cash costs what the affiliate earned net of reversals (its own
    # ledger, by date); the payouts settle that debt and cost nothing more.
    for row in (
        AffiliateEntry.objects.filter(
            reward__isnull=False,
            kind__in=REWARD_KINDS,
            occurred_at__gte=period_range.start_at,
            occurred_at__lt=period_range.end_before,
        )
        .values("reward__program_id", "reward__rule_id", partner=F(f"reward__{_PARTNER}"))
        .annotate(net=Sum("amount_cents"))
        .order_by()
    ):
        facts.cost[(row["reward__program_id"], row["reward__rule_id"])] += row["net"] or 0
        facts.partner_cost[row["partner"]] += row["net"] or 0
    for points_row in (
        PointsEntry.objects.filter(reward__isnull=False, **in_range)
        .values("reward__program_id", "reward__rule_id", partner=F(f"reward__{_PARTNER}"))
        .annotate(points=Sum("points"))
        .order_by()
    ):
        facts.points[(points_row["reward__program_id"], points_row["reward__rule_id"])] += points_row["points"] or 0
        facts.partner_points[points_row["partner"]] += points_row["points"] or 0
    owed = Reward.objects.filter(**in_range).exclude(status__in=NOT_OWED)
    for reward_row in (
        owed.values("program_id", "rule_id", partner=F(_PARTNER))
        .annotate(rewards=Count("pk"), referrals=Count("referral_id", distinct=True))
        .order_by()
    ):
        # A referral has one partner (or none): the partners' groups add up to the rule's.
        key = (reward_row["program_id"], reward_row["rule_id"])
        before = facts.rewards.get(key, (0, 0))
        facts.rewards[key] = (before[0] + reward_row["rewards"], before[1] + reward_row["referrals"])
        before = facts.partner_rewards.get(reward_row["partner"], (0, 0))
        facts.partner_rewards[reward_row["partner"]] = (before[0] + reward_row["rewards"], before[1])
    facts.rewarded_by_program = dict(
        owed.values("program_id")
        .annotate(referrals=Count("referral_id", distinct=True))
        .values_list("program_id", "referrals")
    )
    # A referral rewarded under two programs is one of its partner's rewarded referrals.
    for partner_id, referrals in (
        owed.values(partner=F(_PARTNER))
        .annotate(referrals=Count("referral_id", distinct=True))
        .values_list("partner", "referrals")
        .order_by()
    ):
        facts.partner_rewards[partner_id] = (facts.partner_rewards.get(partner_id, (0, 0))[0], referrals)
    with connection.cursor() as cursor:
        cursor.execute(_REVENUE_SQL, {"start": period_range.start_at, "end": period_range.end_before})
        for dimension, key, cents, practices in cursor.fetchall():
            facts.revenue[dimension][key] = (int(cents or 0), practices)
    return facts


def _sum_by_program(values: dict[tuple[int, int], int]) -> dict[int, int]:
    totals: dict[int, int] = defaultdict(int)
    for (program_id, _rule_id), value in values.items():
        totals[program_id] += value
    return totals


def _program_rows(facts: _Facts, programs: dict[int, ReferralProgram]) -> list[ChannelRow]:
    cost, points = _sum_by_program(facts.cost), _sum_by_program(facts.points)
    rewards: dict[int, int] = defaultdict(int)
    for (rewarded_program_id, _rule_id), (count, _referrals) in facts.rewards.items():
        rewards[rewarded_program_id] += count
    keys: set[int | None] = set(facts.signups) | set(cost) | set(points) | set(rewards) | set(facts.revenue["program"])
    rows = []
    for program_id in sorted(keys, key=lambda key: (key is None, key or 0)):
        program = programs.get(program_id) if program_id is not None else None
        signups, paid = facts.signups.get(program_id, (0, 0))
        revenue, paying = facts.revenue["program"].get(program_id, (0, 0))
        net_cost = cost.get(program_id, 0) if program_id is not None else 0
        rows.append(
            ChannelRow(
                key=f"program:{program_id}" if program_id is not None else NO_PROGRAM,
                label=program.name if program is not None else str(gettext_lazy("No program")),
                program_id=program_id,
                rule_id=None,
                program_name=program.name if program is not None else "",
                signups=signups,
                paid=paid,
                rewards=rewards.get(program_id, 0) if program_id is not None else 0,
                rewarded_referrals=facts.rewarded_by_program.get(program_id, 0) if program_id is not None else 0,
                reward_cost_cents=net_cost,
                points=points.get(program_id, 0) if program_id is not None else 0,
                revenue_cents=revenue,
                paying_practices=paying,
                roi=roi(revenue, net_cost),
                currency=program.currency if program is not None else "usd",
            )
        )
    return rows


def _rule_rows(facts: _Facts, rules: dict[int, RewardRule]) -> list[ChannelRow]:
    keys = {rule_id for _program_id, rule_id in (*facts.cost, *facts.points, *facts.rewards)}
    keys |= {key for key in facts.revenue["rule"] if key is not None}
    by_rule: dict[str, dict[int, int]] = {"cost": defaultdict(int), "points": defaultdict(int)}
    for (_program_id, rule_id), value in facts.cost.items():
        by_rule["cost"][rule_id] += value
    for (_program_id, rule_id), value in facts.points.items():
        by_rule["points"][rule_id] += value
    counts = {rule_id: value for (_program_id, rule_id), value in facts.rewards.items()}
    rows = []
    for rule_id in sorted(keys, key=lambda key: (rules[key].program_id, key) if key in rules else (0, key)):
        rule = rules.get(rule_id)
        revenue, paying = facts.revenue["rule"].get(rule_id, (0, 0))
        count, referrals = counts.get(rule_id, (0, 0))
        net_cost = by_rule["cost"].get(rule_id, 0)
        rows.append(
            ChannelRow(
                key=f"rule:{rule_id}",
                label=rule.name if rule is not None else f"#{rule_id}",
                program_id=rule.program_id if rule is not None else None,
                rule_id=rule_id,
                program_name=rule.program.name if rule is not None else "",
                signups=None,
                paid=None,
                rewards=count,
                rewarded_referrals=referrals,
                reward_cost_cents=net_cost,
                points=by_rule["points"].get(rule_id, 0),
                revenue_cents=revenue,
                paying_practices=paying,
                roi=roi(revenue, net_cost),
                currency=rule.program.currency if rule is not None else "usd",
            )
        )
    return rows


@dataclass(frozen=True)
class Breakdowns:
    rows: dict[str, list[ChannelRow]]
    revenue_cents: int
    paying_practices: int


def breakdowns_build(*, period_range: DateRange, totals: tuple[int, int] | None = None) -> Breakdowns:
    """Every breakdown of the range (BREAKDOWNS' order), and the referred practices' revenue in
    it (the economics' figure). `totals`: the range's (signups, paid), if counted already."""
    programs = {program.pk: program for program in ReferralProgram.objects.all()}
    rules = {rule.pk: rule for rule in RewardRule.objects.select_related("program")}
    facts = _facts(period_range=period_range, programs=list(programs.values()), totals=totals)
    program_revenue = facts.revenue["program"].values()
    return Breakdowns(
        rows={
            "program": _program_rows(facts, programs),
            "partner": partner_rows(
                PartnerFacts(
                    signups=facts.partner_signups,
                    cost=facts.partner_cost,
                    points=facts.partner_points,
                    rewards=facts.partner_rewards,
                    revenue=facts.revenue["partner"],
                )
            ),
            "rule": _rule_rows(facts, rules),
        },
        revenue_cents=sum(cents for cents, _practices in program_revenue),
        paying_practices=sum(practices for _cents, practices in program_revenue),
    )
