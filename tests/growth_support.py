"""Fixtures for the growth loop (invitations, referrals, rate limits)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django_tenants.utils import schema_context

from invitations import services as invitation_services
from invitations import tokens
from invitations.models import Invitation
from tenants.models import Practice, Role, User
from tests.conftest import BASE  # fixtures of tests/conftest.py apply here too

Pair = tuple[User, Practice]
PASSWORD = "molar-Crown-2026"
LINK = re.compile(r"http://dentaltap\.localhost:\d+/invitations/([A-Za-z0-9_-]+)/\?ref=([A-Za-z0-9_-]+)")


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """Rate-limit counters live in Redis (this run's own database): start each test at zero."""
    cache.clear()
    yield


def signup_data(**changes: str) -> dict[str, str]:
    return {
        "full_name": "Dr. Nina Kraus",
        "password": PASSWORD,
        "practice_name": "Kraus Dental",
        "practice_slug": "kraus",
        **changes,
    }


def invite(practice: Practice, by: User, emails: str | list[str], role: str = Role.ASSISTANT, message: str = "") -> Any:
    with schema_context("public"):
        return invitation_services.invitation_create_many(
            practice=practice, invited_by=by, emails=emails, role=role, message=message
        )


def token_for(invitation: Invitation) -> str:
    """What the email would carry: mint a token for the invitation (as the send task does)."""
    token = tokens.token_new()
    Invitation.objects.filter(pk=invitation.pk).update(token_hash=tokens.token_hash(token))
    return token


def sent_link(message: Any) -> tuple[str, str]:
    """(token, referral code) from an invitation email's text body."""
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1), match.group(2)


@pytest.fixture
def outbox() -> list[Any]:
    mail.outbox = []
    return mail.outbox


@pytest.fixture
def owner_and_practice(practice_a: Pair) -> Pair:
    return practice_a


ClientFor = Callable[..., Any]
HOST = BASE


# --------------------------------------------------------------------------- referral dashboard and analytics
# A hand-counted referral world (issue 6), built straight in the public tables: practices are
# bare rows (no schema: the figures never enter a practice), so it costs milliseconds.


def _at(day: str) -> Any:
    import datetime

    from django.utils import timezone

    return timezone.make_aware(datetime.datetime.fromisoformat(f"{day}T12:00:00"))


def bare_practice(slug: str) -> Practice:
    return Practice.objects.bulk_create([Practice(schema_name=f"practice_{slug}", slug=slug, name=f"Practice {slug}")])[
        0
    ]


@pytest.fixture
def referral_world(public_tenant: Practice) -> dict[str, Any]:
    """Alice and Bob refer colleagues; every figure of issue 6's pages is counted by hand in the
    tests from what is written here. Dates fall in January-March 2026.

    Alice (visits: 5 in Jan, 2 in Feb):
      r1 invitation, Jan 5, eligible, P1 paid Jan 10 + Feb 10 (4900 each)  -> reward credited (+5000, Jan 25)
      r2 link, Jan 6, eligible, P2 paid Jan 12, refunded  -> credited (+5000 Jan 28), clawed back (-5000 Feb 3)
      r3 link, Jan 7, eligible, P3 paid Jan 15, refunded in the hold      -> reward cancelled
      r4 link, Jan 8, eligible, P4 paid Feb 5 (9900)                      -> reward pending
      r5 link, Feb 1, not eligible (velocity), P5 never paid              -> no reward
      r6 link, Feb 2, under review (throw-away email), no practice; it asked for access to Alice's practice
    Bob (visits: 1 in Feb, 2 in Mar):
      b1 link, Feb 15, eligible, P6 paid Feb 20                           -> reward credited (+5000, Mar 10)
      b2 link, Mar 1, eligible, no practice
    Practices nobody referred paid too: Q1 Jan 20, Q2 Feb 21, Q3 Mar 2 (4900 each)."""
    import datetime

    from billing.models import LedgerEntry, LedgerKind, Payment
    from invitations.models import Invitation
    from referrals.models import (
        AccessRequest,
        Eligibility,
        EligibilityReason,
        Referral,
        ReferralCode,
        ReferralVisit,
    )
    from rewards.conversions import referral_conversion_refresh
    from rewards.models import Reward, RewardStatus
    from rewards.services import program_current
    from tenants.models import Membership
    from tests.factories import UserFactory

    alice = UserFactory(email="alice@example.com", full_name="Alice Referrer")
    bob = UserFactory(email="bob@example.com", full_name="Bob Other")
    alice_home, bob_home = bare_practice("alice-home"), bare_practice("bob-home")
    Membership.objects.create(user=alice, practice=alice_home, role=Role.OWNER, joined_via="created_practice")
    Membership.objects.create(user=bob, practice=bob_home, role=Role.OWNER, joined_via="created_practice")
    alice_code = ReferralCode.objects.create(user=alice, code="alicecode")
    bob_code = ReferralCode.objects.create(user=bob, code="bobcode1")
    visits = [(alice_code, f"2026-01-{day:02d}") for day in (2, 3, 4, 5, 6)]
    visits += [(alice_code, "2026-02-01"), (alice_code, "2026-02-02"), (bob_code, "2026-02-14")]
    visits += [(bob_code, "2026-03-01"), (bob_code, "2026-03-02")]
    created = ReferralVisit.objects.bulk_create([ReferralVisit(referral_code=code) for code, _day in visits])
    for visit, (_code, day) in zip(created, visits, strict=True):
        ReferralVisit.objects.filter(pk=visit.pk).update(visited_at=_at(day))

    practices = {slug: bare_practice(slug) for slug in ("p1", "p2", "p3", "p4", "p5", "p6", "q1", "q2", "q3")}
    invitation = Invitation.objects.create(
        practice=alice_home,
        invited_by=alice,
        email="nina.kraus@example.com",
        token_hash="x" * 64,
        expires_at=_at("2026-01-20"),
    )

    def referral(referrer: User, email: str, name: str, day: str, practice: str | None, **extra: Any) -> Any:
        newcomer = UserFactory(email=email, full_name=name)
        row = Referral.objects.create(
            referrer=referrer,
            referred_user=newcomer,
            referred_practice=practices[practice] if practice else None,
            source=extra.pop("source", "link"),
            eligibility=extra.pop("eligibility", Eligibility.ELIGIBLE),
            referral_code=alice_code if referrer == alice else bob_code,
            **extra,
        )
        Referral.objects.filter(pk=row.pk).update(created_at=_at(day))
        return row

    r1 = referral(alice, "nina.kraus@example.com", "Nina Kraus", "2026-01-05", "p1", source="invitation",
                  invitation=invitation)  # fmt: skip
    r2 = referral(alice, "oleg@example.com", "Oleg Petrov", "2026-01-06", "p2")
    r3 = referral(alice, "petra@example.com", "Petra Lang", "2026-01-07", "p3")
    r4 = referral(alice, "quinn@example.com", "Quinn Diaz", "2026-01-08", "p4")
    r5 = referral(
        alice, "rosa@example.com", "Rosa Vel", "2026-02-01", "p5",
        eligibility=Eligibility.INELIGIBLE, eligibility_reason=EligibilityReason.VELOCITY_LIMIT,
        eligibility_note="The referrer already brought 20 signups in 24 hours (limit 20).",
    )  # fmt: skip
    r6 = referral(
        alice, "sam@mailinator.com", "Sam Throwaway", "2026-02-02", None,
        eligibility=Eligibility.REVIEW, eligibility_reason=EligibilityReason.DISPOSABLE_EMAIL,
        eligibility_note="The email uses a throw-away domain.", signup_ip="203.0.113.9",
    )  # fmt: skip
    b1 = referral(bob, "tom@example.com", "Tom Bobson", "2026-02-15", "p6")
    b2 = referral(bob, "uma@example.com", "Uma Bobson", "2026-03-01", None)
    AccessRequest.objects.create(practice=alice_home, requester=r6.referred_user, referral=r6)

    def pay(practice: str, invoice: str, day: str, amount: int = 4900, reversed_: bool = False) -> Any:
        return Payment.objects.create(
            stripe_invoice_id=invoice,
            practice=practices[practice],
            stripe_customer_id=f"cus_{practice}",
            amount_cents=amount,
            currency="usd",
            paid_at=_at(day),
            is_reversed=reversed_,
        )

    pay1 = pay("p1", "in_p1_jan", "2026-01-10")
    pay("p1", "in_p1_feb", "2026-02-10")
    pay2 = pay("p2", "in_p2", "2026-01-12", reversed_=True)
    pay3 = pay("p3", "in_p3", "2026-01-15", reversed_=True)
    pay4 = pay("p4", "in_p4", "2026-02-05", amount=9900)
    pay6 = pay("p6", "in_p6", "2026-02-20")
    pay("q1", "in_q1", "2026-01-20")
    pay("q2", "in_q2", "2026-02-21")
    pay("q3", "in_q3", "2026-03-02")
    # What billing's payment handlers record about each payment (the referral's conversion).
    for row in practices.values():
        referral_conversion_refresh(practice_id=row.pk)

    program = program_current()

    def reward(row: Any, payment: Any, status: str, reason: str = "") -> Any:
        return Reward.objects.create(
            referral=row,
            referrer=row.referrer,
            beneficiary_practice=alice_home if row.referrer == alice else bob_home,
            qualifying_payment=payment,
            program=program,
            rule=program.rules.order_by("pk").first(),
            amount_cents=5000,
            currency="usd",
            status=status,
            reason=reason,
            hold_until=payment.paid_at + datetime.timedelta(days=14),
        )

    def ledger(row: Any, kind: str, amount: int, day: str) -> None:
        entry = LedgerEntry.objects.create(
            practice=row.beneficiary_practice,
            reward=row,
            kind=kind,
            amount_cents=amount,
            currency="usd",
            description=f"{kind} {row.pk}",
        )
        LedgerEntry.objects.filter(pk=entry.pk).update(created_at=_at(day))

    reward1 = reward(r1, pay1, RewardStatus.CREDITED)
    ledger(reward1, LedgerKind.REWARD_CREDIT, 5000, "2026-01-25")
    reward2 = reward(r2, pay2, RewardStatus.CLAWED_BACK, "The qualifying payment was refunded or disputed.")
    ledger(reward2, LedgerKind.REWARD_CREDIT, 5000, "2026-01-28")
    ledger(reward2, LedgerKind.REWARD_CLAWBACK, -5000, "2026-02-03")
    reward(r3, pay3, RewardStatus.CANCELLED, "The qualifying payment was refunded or disputed.")
    reward(r4, pay4, RewardStatus.PENDING)
    reward_b1 = reward(b1, pay6, RewardStatus.CREDITED)
    ledger(reward_b1, LedgerKind.REWARD_CREDIT, 5000, "2026-03-10")
    return {
        "alice": alice, "bob": bob, "alice_home": alice_home, "practices": practices,
        "r1": r1, "r2": r2, "r3": r3, "r4": r4, "r5": r5, "r6": r6, "b1": b1, "b2": b2,
    }  # fmt: skip
