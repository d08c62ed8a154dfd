"""What *My referrals* costs (issue 10): a fixed number of queries whatever the number of
referrals, visits, payments and rewards (the figures are aggregates in one statement, a page of
the list is two queries), and the lists the figures say are empty are not queried."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import Payment
from referrals.models import Eligibility, Referral, ReferralCode, ReferralSource, ReferralVisit
from rewards.models import Reward, RewardStatus
from rewards.services import program_current
from tests.factories import UserFactory
from tests.growth_support import ClientFor, bare_practice

pytestmark = pytest.mark.django_db

# The session, the user, the referral code, the address seen, the figures (one statement), the
# ready messages, the weekly chart, one page of referrals and their rewards, the memberships
# (invite pages), the program (override, default), the rewards per program and rule, the
# program's rules, the catalogue.
MY_REFERRALS_QUERIES = 15


def _page_queries(client: Client, path: str = "/referrals/") -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return [query["sql"] for query in queries.captured_queries if not query["sql"].startswith("SET ")]


def _more_referrals(referral_world: dict[str, Any], count: int) -> None:
    """`count` more referrals for Alice this month, every third paid and rewarded, and visits."""
    alice = referral_world["alice"]
    code = ReferralCode.objects.get(user=alice)
    program = program_current()
    rule = program.rules.order_by("pk").first()
    now = timezone.now()
    for n in range(count):
        practice = bare_practice(f"more-{n}") if n % 3 == 0 else None
        referral = Referral.objects.create(
            referrer=alice,
            referred_user=UserFactory(),
            referred_practice=practice,
            referral_code=code,
            source=ReferralSource.LINK,
            eligibility=Eligibility.ELIGIBLE,
        )
        if practice is not None:
            payment = Payment.objects.create(
                stripe_invoice_id=f"in_more_{n}",
                practice=practice,
                stripe_customer_id=f"cus_more_{n}",
                amount_cents=4900,
                currency="usd",
                paid_at=now - datetime.timedelta(days=n),
            )
            Reward.objects.create(
                referral=referral,
                referrer=alice,
                beneficiary_practice=referral_world["alice_home"],
                qualifying_payment=payment,
                program=program,
                rule=rule,
                amount_cents=5000,
                currency="usd",
                status=RewardStatus.PENDING,
                hold_until=payment.paid_at + datetime.timedelta(days=14),
            )
    ReferralVisit.objects.bulk_create([ReferralVisit(referral_code=code) for _n in range(3 * count)])


def test_my_referrals_costs_the_same_queries_whatever_the_rows(
    referral_world: dict[str, Any], client_for: ClientFor
) -> None:
    client = client_for(referral_world["alice"])
    client.get("/referrals/")  # the first visit records the address it came from
    few = _page_queries(client)
    assert len(few) == MY_REFERRALS_QUERIES, "\n".join(few)

    _more_referrals(referral_world, 60)  # 66 referrals: three pages
    many = _page_queries(client)
    assert len(many) == MY_REFERRALS_QUERIES, "\n".join(many)
    older = _page_queries(client, "/referrals/?page=3")
    assert len(older) == MY_REFERRALS_QUERIES, "\n".join(older)
    html = client.get("/referrals/?page=3").content.decode()
    assert html.count("data-referral=") == 16  # 66 = 25 + 25 + 16
    assert 'data-figure="signups">66<' in html
    assert not [sql for sql in many if 'COUNT(*) AS "__count" FROM "referrals_referral"' in sql]  # the paginator's


def test_a_requester_sees_their_access_requests_at_one_query_more(
    referral_world: dict[str, Any], client_for: ClientFor
) -> None:
    """Sam (Alice's r6) asked for access to Alice's practice: My referrals lists the request with
    its Withdraw button, which costs one query; Alice asked for nothing, so hers does not run.
    Sam referred nobody: the funnel's count says so, and no page of referrals is fetched."""
    client = client_for(referral_world["r6"].referred_user)
    client.get("/referrals/")
    queries = _page_queries(client)
    assert len(queries) == MY_REFERRALS_QUERIES - 2 + 1, "\n".join(queries)  # no referrals, the requests
    html = client.get("/referrals/").content.decode()
    assert "Your access requests" in html and referral_world["alice_home"].name in html
    assert "/withdraw/" in html

    alice = client_for(referral_world["alice"])
    assert "Your access requests" not in alice.get("/referrals/").content.decode()
    assert not [sql for sql in _page_queries(alice) if 'FROM "referrals_accessrequest"' in sql]  # the list


def test_a_paid_practice_without_a_reward_yet_reads_paid_at_one_query_more(
    referral_world: dict[str, Any], client_for: ClientFor
) -> None:
    """Whether a row's practice paid is asked only for the rows whose status depends on it
    (eligible, no reward yet), in one query for the page; a refunded payment does not count."""
    alice = referral_world["alice"]
    code = ReferralCode.objects.get(user=alice)
    rows = {}
    for name, reversed_ in (("paid", False), ("refunded", True)):
        practice = bare_practice(f"no-reward-{name}")
        rows[name] = Referral.objects.create(
            referrer=alice,
            referred_user=UserFactory(full_name=f"No Reward {name}"),
            referred_practice=practice,
            referral_code=code,
            source=ReferralSource.LINK,
            eligibility=Eligibility.ELIGIBLE,
        )
        Payment.objects.create(
            stripe_invoice_id=f"in_no_reward_{name}",
            practice=practice,
            stripe_customer_id=f"cus_no_reward_{name}",
            amount_cents=4900,
            currency="usd",
            paid_at=timezone.now(),
            is_reversed=reversed_,
        )
    client = client_for(alice)
    client.get("/referrals/")
    queries = _page_queries(client)
    assert len(queries) == MY_REFERRALS_QUERIES + 1, "\n".join(queries)
    listed = {row["id"]: row for row in client.get("/api/referrals/dashboard/referrals/").json()["results"]}
    assert listed[rows["paid"].pk]["status"] == "paid"
    assert listed[rows["refunded"].pk]["status"] == "signed_up"
