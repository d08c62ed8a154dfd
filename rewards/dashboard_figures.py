"""*My referrals*' figures: the funnel, the counts beside it (invitations sent, the points
balance, whether a revenue-share statement is linked) and the weekly chart.

Keyed on the user, never on a practice. Every figure is an SQL aggregate over indexed columns
(the referrer's code for visits, `referral_referrer_time_idx` for referrals,
`reward_referrer_idx` for rewards), all of them in one statement (`referrer_figures`) and the
chart in another (`referrer_weekly`), whatever the number of rows. SQL, not the ORM: the ORM
cannot put aggregates of several tables in one SELECT, and compiling the nine querysets these
replace cost more Python than the database spent running them (issue 10)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from referrals.models import Eligibility, ReferralCode
from rewards.models import PayoutMethod, RewardRecipient, RewardStatus
from tenants.models import User

CHART_WEEKS = 12

PENDING_REWARD_STATUSES = (RewardStatus.PENDING, RewardStatus.ON_HOLD, RewardStatus.CREDITING, RewardStatus.FAILED)
CANCELLED_REWARD_STATUSES = (RewardStatus.CANCELLED, RewardStatus.REJECTED)


@dataclass(frozen=True)
class Funnel:
    visits: int
    signups: int
    access_requests: int
    paid_conversions: int
    not_eligible: int
    under_review: int
    rewards_pending: int
    rewards_credited: int
    rewards_cancelled: int
    rewards_clawed_back: int
    earned_cents: int
    currency: str


@dataclass(frozen=True)
class ReferrerFigures:
    """Every count of the page in one: the funnel, the invitations sent, the points balance,
    whether a revenue-share statement is linked (a cash rule's reward, or an entry in the
    affiliate ledger), and whether the user has anything to list as the referred side of a
    reward or as the requester of access (else the page skips those two queries)."""

    funnel: Funnel
    invitations_sent: int
    points_balance: int
    has_statement: bool
    has_received: bool
    has_access_requests: bool


# Every count of the page: each its own indexed aggregate on the user's rows, as the separate
# queries were, in one round trip and one plan.
_FIGURES_SQL = """
SELECT
    (SELECT count(*) FROM referrals_referralvisit WHERE referral_code_id = %(code)s),
    referrals.signups, referrals.paid, referrals.not_eligible, referrals.under_review,
    (SELECT count(*) FROM referrals_accessrequest AS access
        JOIN referrals_referral AS referral ON referral.id = access.referral_id
        WHERE referral.referrer_id = %(user)s),
    rewards.pending, rewards.credited, rewards.cancelled, rewards.clawed_back,
    (SELECT coalesce(sum(entry.amount_cents), 0) FROM billing_ledgerentry AS entry
        JOIN rewards_reward AS reward ON reward.id = entry.reward_id
        WHERE reward.referrer_id = %(user)s),
    (SELECT count(*) FROM invitations_invitation WHERE invited_by_id = %(user)s AND sent_at IS NOT NULL),
    (SELECT coalesce(sum(points), 0) FROM rewards_pointsentry WHERE user_id = %(user)s),
    EXISTS (SELECT 1 FROM rewards_affiliateentry WHERE affiliate_id = %(user)s)
        OR EXISTS (SELECT 1 FROM rewards_reward AS reward
            JOIN rewards_rewardrule AS rule ON rule.id = reward.rule_id
            WHERE reward.referrer_id = %(user)s AND rule.payout = %(cash)s),
    EXISTS (SELECT 1 FROM rewards_reward WHERE recipient_user_id = %(user)s AND recipient = %(referred)s),
    EXISTS (SELECT 1 FROM referrals_accessrequest WHERE requester_id = %(user)s)
FROM (
    SELECT count(*) AS signups,
        count(*) FILTER (WHERE referred_practice_id IS NOT NULL AND EXISTS (
            SELECT 1 FROM billing_payment AS payment
            WHERE payment.practice_id = referral.referred_practice_id AND NOT payment.is_reversed)) AS paid,
        count(*) FILTER (WHERE eligibility = %(ineligible)s) AS not_eligible,
        count(*) FILTER (WHERE eligibility = %(review)s) AS under_review
    FROM referrals_referral AS referral WHERE referrer_id = %(user)s
) AS referrals, (
    SELECT count(*) FILTER (WHERE status = ANY(%(pending)s)) AS pending,
        count(*) FILTER (WHERE status = %(credited)s) AS credited,
        count(*) FILTER (WHERE status = ANY(%(cancelled)s)) AS cancelled,
        count(*) FILTER (WHERE status = %(clawed_back)s) AS clawed_back
    FROM rewards_reward WHERE referrer_id = %(user)s
) AS rewards
"""


def referrer_figures(*, user: User, code: ReferralCode | None) -> ReferrerFigures:
    """The user's figures (referrals, visits, rewards, the ledger, invitations, points): one
    statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            _FIGURES_SQL,
            {
                "user": user.pk,
                "code": code.pk if code is not None else None,
                "ineligible": Eligibility.INELIGIBLE,
                "review": Eligibility.REVIEW,
                "pending": [str(status) for status in PENDING_REWARD_STATUSES],
                "credited": RewardStatus.CREDITED,
                "cancelled": [str(status) for status in CANCELLED_REWARD_STATUSES],
                "clawed_back": RewardStatus.CLAWED_BACK,
                "cash": PayoutMethod.CASH,
                "referred": RewardRecipient.REFERRED,
            },
        )
        row = cursor.fetchone()
    (visits, signups, paid, not_eligible, under_review, access_requests, pending, credited, cancelled, clawed_back,
     earned, invitations_sent, points_balance, has_statement, has_received, has_access_requests) = row  # fmt: skip
    funnel = Funnel(
        visits=visits,
        signups=signups,
        access_requests=access_requests,
        paid_conversions=paid,
        not_eligible=not_eligible,
        under_review=under_review,
        rewards_pending=pending,
        rewards_credited=credited,
        rewards_cancelled=cancelled,
        rewards_clawed_back=clawed_back,
        earned_cents=int(earned),
        currency="usd",
    )
    return ReferrerFigures(
        funnel=funnel,
        invitations_sent=invitations_sent,
        points_balance=int(points_balance),
        has_statement=has_statement,
        has_received=has_received,
        has_access_requests=has_access_requests,
    )


def _week_start(moment: datetime.datetime) -> datetime.date:
    day = timezone.localtime(moment).date()
    return day - datetime.timedelta(days=day.weekday())


# Signups per week, and conversions (the referred practice's first standing payment) per week,
# in one statement: each row falls in the bucket of the week starts given (local Mondays, 0:00).
_WEEKLY_SQL = """
SELECT 'signups', width_bucket(created_at, %(starts)s), count(*)
FROM referrals_referral WHERE referrer_id = %(user)s AND created_at >= %(since)s GROUP BY 2
UNION ALL
SELECT 'conversions', width_bucket(first_paid_at, %(starts)s), count(*)
FROM (
    SELECT min(paid_at) AS first_paid_at FROM billing_payment
    WHERE NOT is_reversed AND practice_id IN (
        SELECT referred_practice_id FROM referrals_referral
        WHERE referrer_id = %(user)s AND referred_practice_id IS NOT NULL)
    GROUP BY practice_id
) AS firsts
WHERE first_paid_at >= %(since)s GROUP BY 2
"""


def referrer_weekly(*, user: User, weeks: int = CHART_WEEKS) -> list[dict[str, Any]]:
    """Signups and paid conversions per week (Monday) for the last `weeks` weeks, zeros
    included. A conversion counts in the week of the referred practice's first payment that
    still stands. One statement."""

    this_week = _week_start(timezone.now())
    first_week = this_week - datetime.timedelta(weeks=weeks - 1)
    days = [first_week + datetime.timedelta(weeks=index) for index in range(weeks + 1)]
    starts = [timezone.make_aware(datetime.datetime.combine(day, datetime.time.min)) for day in days]
    series = [{"week": day.isoformat(), "signups": 0, "conversions": 0} for day in days[:weeks]]
    with connection.cursor() as cursor:
        cursor.execute(_WEEKLY_SQL, {"user": user.pk, "since": starts[0], "starts": starts})
        for kind, bucket, count in cursor.fetchall():
            if 1 <= bucket <= weeks:  # bucket i: from the i-th week start to the next; past the last: later
                series[bucket - 1][kind] = count
    return series
