"""The monthly statement of each affiliate (cash revenue share), from their append-only ledger:
per month and currency, the opening balance, what was earned, what refunds and disputes
reversed, what was paid out (net of payout reversals) and the closing balance. Months are
calendar months in UTC. Two grouped queries whatever the number of affiliates: the balances
before the first month, and the sums per affiliate, currency, month and kind inside the range."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Sum
from django.db.models.functions import TruncMonth

from rewards.models import AffiliateEntry, AffiliateEntryKind, PayoutMethod, Reward, RewardStatus
from tenants.models import User

STATEMENT_COLUMNS = (
    "affiliate_id", "affiliate_email", "currency", "month", "opening_cents", "earned_cents", "reversed_cents",
    "paid_out_cents", "closing_cents",
)  # fmt: skip


@dataclass(frozen=True)
class StatementMonth:
    month: datetime.date
    opening_cents: int
    earned_cents: int
    reversed_cents: int  # shown positive: what refunds and disputes took back
    paid_out_cents: int  # shown positive: payouts less payout reversals
    closing_cents: int


@dataclass(frozen=True)
class AffiliateStatement:
    affiliate_id: int
    email: str
    name: str
    currency: str
    months: list[StatementMonth]
    pending_cents: int  # earned, still in its hold (not in the balance yet)

    @property
    def opening_cents(self) -> int:
        return self.months[0].opening_cents if self.months else 0

    @property
    def closing_cents(self) -> int:
        return self.months[-1].closing_cents if self.months else 0

    @property
    def earned_cents(self) -> int:
        return sum(month.earned_cents for month in self.months)

    @property
    def reversed_cents(self) -> int:
        return sum(month.reversed_cents for month in self.months)

    @property
    def paid_out_cents(self) -> int:
        return sum(month.paid_out_cents for month in self.months)


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def months_from(first: datetime.date, count: int) -> list[datetime.date]:
    months, month = [], month_start(first)
    for _index in range(count):
        months.append(month)
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return months


def _moment(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(0), tzinfo=datetime.UTC)


def affiliate_statements(
    *, first_month: datetime.date, months: int, affiliate_id: int | None = None
) -> list[AffiliateStatement]:
    """Every affiliate with a ledger entry before the end of the range or a cash reward in its
    hold (or only the one asked for), ordered by email, one statement per currency."""
    calendar = months_from(first_month, months)
    start, end = _moment(calendar[0]), _moment(months_from(calendar[-1], 2)[1])
    entries = AffiliateEntry.objects.all()
    if affiliate_id is not None:
        entries = entries.filter(affiliate_id=affiliate_id)
    opening: dict[tuple[int, str], int] = {
        (row["affiliate_id"], row["currency"]): row["total"]
        for row in entries.filter(occurred_at__lt=start)
        .values("affiliate_id", "currency")
        .annotate(total=Sum("amount_cents"))
        .order_by()
    }
    moves: dict[tuple[int, str], dict[tuple[datetime.date, str], int]] = defaultdict(dict)
    for row in (
        entries.filter(occurred_at__gte=start, occurred_at__lt=end)
        .annotate(month=TruncMonth("occurred_at", tzinfo=datetime.UTC))
        .values("affiliate_id", "currency", "month", "kind")
        .annotate(total=Sum("amount_cents"))
        .order_by()
    ):
        moves[(row["affiliate_id"], row["currency"])][(row["month"].date(), row["kind"])] = row["total"]
    pending = _pending(affiliate_id)
    keys = sorted(set(opening) | set(moves) | set(pending))
    users = {user.pk: user for user in User.objects.filter(pk__in={key[0] for key in keys}).only("email", "full_name")}
    statements = [
        _statement(
            key=key,
            user=users[key[0]],
            calendar=calendar,
            opening=opening.get(key, 0),
            moves=moves.get(key, {}),
            pending_cents=pending.get(key, 0),
        )
        for key in keys
    ]
    return sorted(statements, key=lambda statement: (statement.email, statement.currency))


def _pending(affiliate_id: int | None) -> dict[tuple[int, str], int]:
    """Cash rewards earned and still in their hold (or held for review), per affiliate."""
    waiting = Reward.objects.filter(payout=PayoutMethod.CASH, status__in=(RewardStatus.PENDING, RewardStatus.ON_HOLD))
    if affiliate_id is not None:
        waiting = waiting.filter(referrer_id=affiliate_id)  # cash is paid to the referrer only
    return {
        (row["referrer_id"], row["currency"]): row["total"]
        for row in waiting.values("referrer_id", "currency").annotate(total=Sum("amount_cents")).order_by()
    }


def _statement(
    *,
    key: tuple[int, str],
    user: User,
    calendar: list[datetime.date],
    opening: int,
    moves: dict[tuple[datetime.date, str], int],
    pending_cents: int,
) -> AffiliateStatement:
    rows, balance = [], opening
    for month in calendar:
        earned = moves.get((month, AffiliateEntryKind.EARNED), 0)
        reversed_ = -moves.get((month, AffiliateEntryKind.REVERSED), 0)
        paid_out = -moves.get((month, AffiliateEntryKind.PAID_OUT), 0) - moves.get(
            (month, AffiliateEntryKind.PAYOUT_REVERSED), 0
        )
        closing = balance + earned - reversed_ - paid_out
        rows.append(StatementMonth(month, balance, earned, reversed_, paid_out, closing))
        balance = closing
    return AffiliateStatement(
        affiliate_id=key[0],
        email=user.email,
        name=user.full_name,
        currency=key[1],
        months=rows,
        pending_cents=pending_cents,
    )


def statement_rows(statements: list[AffiliateStatement]) -> Iterator[tuple[Any, ...]]:
    """The CSV: one row per affiliate, currency and month (STATEMENT_COLUMNS)."""
    for statement in statements:
        for month in statement.months:
            yield (
                statement.affiliate_id,
                statement.email,
                statement.currency,
                month.month.strftime("%Y-%m"),
                month.opening_cents,
                month.earned_cents,
                month.reversed_cents,
                month.paid_out_cents,
                month.closing_cents,
            )
