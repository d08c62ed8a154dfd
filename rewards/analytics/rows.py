"""The breakdowns' rows (one program's, partner's or rule's figures over a range), ROI, and the
rows by partner (`programs` counts the facts; this module lays them out).

**Which partner a referral belongs to**: the partner whose code attributed it (its
`partner_code`'s batch). A code used only for its benefit (a referral link or an invitation came
first: first touch wins) attributes nothing, so that practice counts under "No partner" with its
referrer. A partner's rewards and cost are those of the referrals it brought (both halves of a
two-sided reward: the referred practice's too), by the ledger (net of clawbacks) plus a revenue
share paid in cash (its affiliate ledger); its revenue is the revenue of those practices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.utils.translation import gettext

from referrals.models import Partner

NO_PARTNER = "none"


@dataclass(frozen=True)
class ChannelRow:
    """One program's, partner's or rule's figures over the range. `signups` and `paid` are a
    program's or a partner's (a rule does not own signups: None). A partner's row names the
    partner's program, if it has one (`program_id`, `program_name`)."""

    key: str
    label: str
    program_id: int | None
    rule_id: int | None
    program_name: str
    signups: int | None
    paid: int | None
    rewards: int
    rewarded_referrals: int
    reward_cost_cents: int
    points: int
    revenue_cents: int
    paying_practices: int
    roi: float | None
    currency: str
    partner_id: int | None = None


def roi(revenue_cents: int, cost_cents: int) -> float | None:
    """(revenue - net reward cost) / net reward cost, as the economics say it; none without a cost."""
    return round((revenue_cents - cost_cents) / cost_cents, 2) if cost_cents > 0 else None


@dataclass(frozen=True)
class PartnerFacts:
    """Per partner id (None: no partner) over the range: (signups, paid), net cost in cents,
    net points, (rewards, rewarded referrals), (revenue cents, paying practices)."""

    signups: Mapping[int | None, tuple[int, int]]
    cost: Mapping[int | None, int]
    points: Mapping[int | None, int]
    rewards: Mapping[int | None, tuple[int, int]]
    revenue: Mapping[int | None, tuple[int, int]]


def partner_rows(facts: PartnerFacts) -> list[ChannelRow]:
    """One row per partner with a figure in the range (by name), then "No partner"."""
    keys = set(facts.signups) | set(facts.cost) | set(facts.points) | set(facts.rewards) | set(facts.revenue)
    known = {key for key in keys if key is not None}
    found = Partner.objects.filter(pk__in=known).select_related("program_link__program")
    partners = {partner.pk: partner for partner in found}
    ordered: list[int | None] = sorted(known, key=lambda key: (partners[key].name if key in partners else "", key))
    if None in keys:
        ordered.append(None)
    rows = []
    for partner_id in ordered:
        partner = partners.get(partner_id) if partner_id is not None else None
        link = getattr(partner, "program_link", None) if partner is not None else None
        program = link.program if link is not None else None
        signups, paid = facts.signups.get(partner_id, (0, 0))
        rewards, referrals = facts.rewards.get(partner_id, (0, 0))
        revenue, paying = facts.revenue.get(partner_id, (0, 0))
        cost = facts.cost.get(partner_id, 0)
        if partner is not None:
            label = partner.name
        else:
            label = gettext("No partner") if partner_id is None else f"#{partner_id}"
        rows.append(
            ChannelRow(
                key=f"partner:{partner_id}" if partner_id is not None else NO_PARTNER,
                label=label,
                program_id=program.pk if program is not None else None,
                rule_id=None,
                program_name=program.name if program is not None else "",
                signups=signups,
                paid=paid,
                rewards=rewards,
                rewarded_referrals=referrals,
                reward_cost_cents=cost,
                points=facts.points.get(partner_id, 0),
                revenue_cents=revenue,
                paying_practices=paying,
                roi=roi(revenue, cost),
                currency=program.currency if program is not None else "usd",
                partner_id=partner_id,
            )
        )
    return rows
