"""Redeeming points (issue 11), page and API: the catalogue with what the user can afford, one
redemption per idempotency key (a hidden key per render on the page, the Idempotency-Key header
on the API; real threads retrying the same request spend once), refusals for the balance, the
stock and the expiry as form errors and 400s in the one error shape, nothing written then."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from rewards.models import CatalogueItem, PointsEntry, PointsKind, Redemption
from rewards.points import points_balance
from tests.concurrency import run_together
from tests.conftest import host
from tests.factories import UserFactory
from tests.points_support import give_points

API = "/api/referrals/rewards/redemptions/"


@pytest.fixture
def catalogue(db: None) -> dict[str, CatalogueItem]:
    return {
        "pro": CatalogueItem.objects.create(name="One month of Pro", cost_points=1000, stock=3),
        "credit": CatalogueItem.objects.create(name="$100 credit", cost_points=2000),
        "last": CatalogueItem.objects.create(name="Last mug", cost_points=10, stock=1),
        "old": CatalogueItem.objects.create(
            name="Old offer", cost_points=10, available_until=timezone.now() + timezone.timedelta(seconds=3)
        ),
    }


@pytest.mark.django_db
def test_the_api_lists_what_the_user_can_afford_and_refuses_in_the_error_shape(
    make_practice: Any, catalogue: dict[str, CatalogueItem], client_for: Any
) -> None:
    user, _home = make_practice("redeemer", schema=False)
    give_points(user, 1500, make_practice)
    client = client_for(user)
    body = client.get("/api/referrals/rewards/").json()
    assert body["balance"] == 1500
    affordable = {item["name"]: item["affordable"] for item in body["items"]}
    assert affordable["One month of Pro"] and not affordable["$100 credit"]

    missing = client.post(API, {"item": catalogue["pro"].pk})
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "idempotency_key_required"
    assert "Idempotency-Key" in missing.json()["error"]["fields"]
    too_long = client.post(API, {"item": catalogue["pro"].pk}, HTTP_IDEMPOTENCY_KEY="x" * 101)
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "idempotency_key_invalid"

    short = client.post(API, {"item": catalogue["credit"].pk}, HTTP_IDEMPOTENCY_KEY="c1")
    assert short.status_code == 400
    assert short.json()["error"] == {
        "code": "insufficient_points",
        "message": "Not enough points: this reward costs 2000, you have 1500.",
        "fields": {"item": ["Not enough points."]},
    }
    CatalogueItem.objects.filter(pk=catalogue["old"].pk).update(available_until=timezone.now())
    expired = client.post(API, {"item": catalogue["old"].pk}, HTTP_IDEMPOTENCY_KEY="o1")
    assert expired.status_code == 400 and expired.json()["error"]["code"] == "expired"
    unknown = client.post(API, {"item": 999_999}, HTTP_IDEMPOTENCY_KEY="u1")
    assert unknown.status_code == 400 and unknown.json()["error"]["fields"] == {"item": ["Unknown item."]}
    bad = client.post(API, {"item": "two"}, HTTP_IDEMPOTENCY_KEY="b1")
    assert bad.status_code == 400 and "item" in bad.json()["error"]["fields"]
    assert not Redemption.objects.exists() and points_balance(user=user) == 1500  # nothing written

    made = client.post(API, {"item": catalogue["last"].pk}, HTTP_IDEMPOTENCY_KEY="m1")
    assert made.status_code == 201 and made.json()["item_name"] == "Last mug"
    other, _home = make_practice("second-redeemer", schema=False)
    give_points(other, 100, make_practice)
    sold_out = client_for(other).post(API, {"item": catalogue["last"].pk}, HTTP_IDEMPOTENCY_KEY="m1")
    assert sold_out.status_code == 400 and sold_out.json()["error"]["code"] == "out_of_stock"
    # The same key from another user is their own key: it never returns (or reveals) the first one.
    assert Redemption.objects.filter(user=other).count() == 0
    reused = client.post(API, {"item": catalogue["pro"].pk}, HTTP_IDEMPOTENCY_KEY="m1")
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "idempotency_key_reused"


@pytest.mark.django_db(transaction=True)
def test_a_retried_redemption_from_many_threads_spends_once(
    make_practice: Any, catalogue: dict[str, CatalogueItem]
) -> None:
    """Eight clients send the same request with the same key at the same moment, through the
    real API (session auth, CSRF-exempt API, the view, the service): one redemption, one debit,
    one item out of stock; every answer is the same 201. A second key spends again."""
    user, _home = make_practice("impatient", schema=False)
    give_points(user, 2500, make_practice)

    def send(key: str) -> tuple[int, int]:
        client = Client(HTTP_HOST=host(None))
        client.force_login(user)
        response = client.post(API, {"item": catalogue["pro"].pk}, HTTP_IDEMPOTENCY_KEY=key)
        return response.status_code, response.json().get("id", 0)

    answers = run_together(*[lambda: send("double-click-1") for _ in range(8)])
    assert {status for status, _id in answers} == {201} and len({pk for _status, pk in answers}) == 1
    assert Redemption.objects.count() == 1
    assert points_balance(user=user) == 1500
    assert PointsEntry.objects.filter(user=user, kind=PointsKind.REDEMPTION).count() == 1
    catalogue["pro"].refresh_from_db()
    assert catalogue["pro"].stock == 2
    assert send("second-click")[0] == 201 and points_balance(user=user) == 500


@pytest.mark.django_db
def test_the_page_redeems_once_per_render_and_shows_refusals_on_the_form(
    make_practice: Any, catalogue: dict[str, CatalogueItem], client_for: Any
) -> None:
    user, _home = make_practice("page-redeemer", schema=False)
    give_points(user, 1500, make_practice)
    client = client_for(user)
    page = client.get("/referrals/rewards/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-item="{catalogue["pro"].pk}" data-affordable="yes"' in html
    assert f'data-item="{catalogue["credit"].pk}" data-affordable="no"' in html
    assert "500 points missing" in html
    keys = re.findall(r'name="idempotency_key" value="([0-9a-f]{32})"', html)
    assert len(keys) == 4 and len(set(keys)) == 4  # a fresh key per item and per render
    assert set(keys).isdisjoint(
        re.findall(r'value="([0-9a-f]{32})"', client.get("/referrals/rewards/").content.decode())
    )

    form = {"item": catalogue["pro"].pk, "idempotency_key": keys[0]}
    first = client.post("/referrals/rewards/", form, follow=True)
    assert "Redeemed: One month of Pro for 1000 points." in first.content.decode()
    again = client.post("/referrals/rewards/", form)  # the same form sent twice (a double click)
    assert again.status_code == 302
    assert Redemption.objects.count() == 1 and points_balance(user=user) == 500
    assert f'data-redemption="{Redemption.objects.get().pk}"' in client.get("/referrals/rewards/").content.decode()

    refused = client.post("/referrals/rewards/", {"item": catalogue["credit"].pk, "idempotency_key": "k" * 32})
    assert refused.status_code == 400
    assert "Not enough points: this reward costs 2000, you have 500." in refused.content.decode()
    forged = client.post("/referrals/rewards/", {"item": 999_999, "idempotency_key": "f" * 32})
    assert forged.status_code == 400 and "This reward is not in the catalogue." in forged.content.decode()
    no_key = client.post("/referrals/rewards/", {"item": catalogue["pro"].pk})
    assert no_key.status_code == 400 and Redemption.objects.count() == 1


@pytest.mark.django_db
def test_another_user_cannot_spend_or_see_someone_elses_points(
    make_practice: Any, catalogue: dict[str, CatalogueItem], client_for: Any
) -> None:
    owner, _home = make_practice("points-owner", schema=False)
    give_points(owner, 1500, make_practice)
    client_for(owner).post(API, {"item": catalogue["pro"].pk}, HTTP_IDEMPOTENCY_KEY="mine")
    attacker = UserFactory()
    body = client_for(attacker).get("/api/referrals/rewards/").json()
    assert body["balance"] == 0 and body["redemptions"] == []
    replay = client_for(attacker).post(API, {"item": catalogue["pro"].pk}, HTTP_IDEMPOTENCY_KEY="mine")
    assert replay.status_code == 400 and replay.json()["error"]["code"] == "insufficient_points"
    assert "mine" not in client_for(attacker).get("/referrals/rewards/").content.decode()
    assert points_balance(user=owner) == 500 and Redemption.objects.filter(user=attacker).count() == 0
