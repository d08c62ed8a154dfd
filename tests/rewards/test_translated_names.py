"""Staff-entered names dentists read, in their language: the program and a rule's name on *My
referrals* (page and API), the catalogue's items (page, API, the redemption), falling back to
English for a row staff have not translated; and the admin, which refuses a visible program,
rule or item without its Russian and German names and says which language is missing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from rewards.models import CatalogueItem, ReferralProgram, RewardRule
from rewards.services import program_current
from tenants.models import User
from tests.billing_support import Pair, default_rule_set
from tests.points_support import give_points, qualify, referral_paid

pytestmark = pytest.mark.django_db
ClientFor = Callable[..., Client]


@pytest.fixture
def staff(public_tenant: Any) -> User:
    return User.objects.create_superuser("staff@dentaltap.example", "x-Strong-pass-99", full_name="Staff")


@pytest.fixture
def items(db: None) -> dict[str, CatalogueItem]:
    return {
        "month": CatalogueItem.objects.create(
            name="One month of Pro",
            name_ru="Месяц тарифа Pro",
            name_de="Ein Monat Pro",
            description="Your next month free",
            description_ru="Следующий месяц бесплатно",
            description_de="Ihr nächster Monat kostenlos",
            cost_points=100,
        ),
        # Made before translations were required (or through the shell): shown in English.
        "mug": CatalogueItem.objects.create(name="DentalTap mug", cost_points=5000),
    }


def language(user: User, code: str) -> User:
    User.objects.filter(pk=user.pk).update(language=code)
    user.refresh_from_db()
    return user


def test_my_referrals_shows_the_program_and_a_rule_reaching_its_cap_in_the_referrers_language(
    make_practice: Callable[..., Pair], client_for: ClientFor
) -> None:
    rule = default_rule_set(cap_count=1, cap_period="lifetime")
    program = program_current()
    referrer, _home = make_practice("sprecher", schema=False)
    qualify(referral_paid(make_practice, referrer, "empfohlen"))

    german = client_for(language(referrer, "de"), HTTP_ACCEPT_LANGUAGE="de")  # pages: stored; API: header
    [panel] = german.get("/api/referrals/dashboard/").json()["programs"]
    # The house program and its rule, as the migrations named them ("50 USD to the referrer ...").
    assert program.name_de == "Empfehlungsguthaben"
    assert rule.name == "50 USD to the referrer after the first payment"
    assert rule.name_de == "50\u00a0USD für den Empfehlungsgeber nach der ersten Zahlung"
    assert panel["name"] == "Empfehlungsguthaben"
    assert len(panel["maximums"]) == 1 and rule.name_de in panel["maximums"][0]
    html = german.get("/referrals/").content.decode()
    assert "<h4>Empfehlungsguthaben" in html and "Referral credit" not in html

    russian = client_for(language(referrer, "ru"), HTTP_ACCEPT_LANGUAGE="ru")
    [panel] = russian.get("/api/referrals/dashboard/").json()["programs"]
    assert panel["name"] == "Бонус за рекомендацию"
    assert rule.name_ru in panel["maximums"][0] and "рекомендателю после первой оплаты" in rule.name_ru
    assert "<h4>Бонус за рекомендацию" in russian.get("/referrals/").content.decode()

    english = client_for(language(referrer, "en"), HTTP_ACCEPT_LANGUAGE="en")
    assert english.get("/api/referrals/dashboard/").json()["programs"][0]["name"] == "Referral credit"


def test_a_program_without_a_translation_is_shown_in_english(
    make_practice: Callable[..., Pair], client_for: ClientFor
) -> None:
    """A row staff have not translated (an older program, one made in the shell) falls back."""
    ReferralProgram.objects.filter(pk=program_current().pk).update(name="Spring bonus", name_ru="", name_de="")
    referrer, _home = make_practice("fallback-referrer", schema=False)
    body = client_for(referrer, HTTP_ACCEPT_LANGUAGE="ru").get("/api/referrals/dashboard/").json()
    assert body["programs"][0]["name"] == "Spring bonus"


def test_the_catalogue_page_api_and_redemption_speak_the_users_language(
    make_practice: Callable[..., Pair], items: dict[str, CatalogueItem], client_for: ClientFor
) -> None:
    user, _home = make_practice("sammler", schema=False)
    give_points(user, 150, make_practice)
    client = client_for(language(user, "de"), HTTP_ACCEPT_LANGUAGE="de")

    rows = {row["id"]: row for row in client.get("/api/referrals/rewards/").json()["items"]}
    assert (rows[items["month"].pk]["name"], rows[items["month"].pk]["description"]) == (
        "Ein Monat Pro",
        "Ihr nächster Monat kostenlos",
    )
    assert rows[items["mug"].pk]["name"] == "DentalTap mug"  # not translated: English
    html = client.get("/referrals/rewards/").content.decode()
    assert "Ein Monat Pro" in html and "Ihr nächster Monat kostenlos" in html and "One month of Pro" not in html

    made = client.post("/api/referrals/rewards/redemptions/", {"item": items["month"].pk}, HTTP_IDEMPOTENCY_KEY="k1")
    assert made.status_code == 201 and made.json()["item_name"] == "Ein Monat Pro"
    assert "<td>Ein Monat Pro</td>" in client.get("/referrals/rewards/").content.decode()  # the redemption

    russian = client_for(language(user, "ru"), HTTP_ACCEPT_LANGUAGE="ru")
    listed = russian.get("/api/referrals/rewards/").json()
    assert listed["redemptions"][0]["item_name"] == "Месяц тарифа Pro"
    assert {row["name"] for row in listed["items"]} == {"Месяц тарифа Pro", "DentalTap mug"}
    dashboard = russian.get("/api/referrals/dashboard/").json()
    assert "Месяц тарифа Pro" in dashboard["points"]["words"]  # 50 points to go for it, in Russian


def _program_form(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Summer bonus",
        "name_ru": "Летний бонус",
        "name_de": "Sommerbonus",
        "currency": "usd",
        "starts_at_0": "2030-06-01",
        "starts_at_1": "00:00:00",
        "ends_at_0": "2030-09-01",
        "ends_at_1": "00:00:00",
        "is_active": "on",
        "budget_cents": "",
        "rules-TOTAL_FORMS": "0",
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
        **changes,
    }


def test_the_admin_refuses_an_active_program_without_its_three_names_and_names_the_language(
    staff: User, client_for: ClientFor
) -> None:
    client = client_for(staff)
    page = client.get("/admin/rewards/referralprogram/add/").content.decode()
    assert 'name="name_ru"' in page and 'name="name_de"' in page
    # Side by side: the three names share one row of the form.
    assert "field-name field-name_ru field-name_de" in page

    refused = client.post("/admin/rewards/referralprogram/add/", _program_form(name_de=""))
    assert refused.status_code == 200
    errors = refused.context["adminform"].form.errors
    assert list(errors) == ["name_de"] and errors["name_de"][0].startswith("Needed in German:")
    assert not ReferralProgram.objects.filter(name="Summer bonus").exists()

    in_russian = client_for(language(staff, "ru"))
    refused = in_russian.post("/admin/rewards/referralprogram/add/", _program_form(name_ru=""))
    assert refused.context["adminform"].form.errors["name_ru"][0].startswith("Нужен перевод (Русский):")

    # A draft (inactive, nothing paid under it) may wait for its translations.
    draft = client.post("/admin/rewards/referralprogram/add/", _program_form(name="Draft", name_ru="", is_active=""))
    assert draft.status_code == 302 and ReferralProgram.objects.filter(name="Draft").exists()
    assert client.post("/admin/rewards/referralprogram/add/", _program_form()).status_code == 302


def test_the_admin_refuses_an_active_rule_or_catalogue_item_without_its_translations(
    staff: User, client_for: ClientFor, items: dict[str, CatalogueItem]
) -> None:
    client = client_for(staff)
    rule = RewardRule.objects.create(
        program=program_current(), name="Bonus at 3", amount_cents=100, condition="nth_paid", threshold=3
    )
    form = {
        "program": rule.program_id,
        "name": rule.name,
        "name_ru": "Бонус за третью",
        "name_de": "",
        "is_active": "on",
        "trigger": rule.trigger,
        "recipient": rule.recipient,
        "structure": rule.structure,
        "amount_cents": 100,
        "basis_points": 0,
        "points": 0,
        "payout": rule.payout,
        "duration": rule.duration,
        "duration_months": "",
        "hold_days": 14,
        "cap_period": rule.cap_period,
        "cap_count": "",
        "cap_amount_cents": "",
        "condition": "nth_paid",
        "threshold": 3,
        "tier_group": "",
    }
    refused = client.post(f"/admin/rewards/rewardrule/{rule.pk}/change/", form)
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["name_de"][0].startswith("Needed in German:")
    done = client.post(f"/admin/rewards/rewardrule/{rule.pk}/change/", {**form, "name_de": "Bonus beim dritten"})
    assert done.status_code == 302
    rule.refresh_from_db()
    assert rule.name_de == "Bonus beim dritten"

    mug = items["mug"]
    item_form = {"name": mug.name, "name_ru": "Кружка", "name_de": "Tasse", "description": "For your coffee"}
    item_form |= {"description_ru": "", "description_de": "", "cost_points": 5000, "stock": "", "is_active": "on"}
    refused = client.post(f"/admin/rewards/catalogueitem/{mug.pk}/change/", item_form)
    assert set(refused.context["adminform"].form.errors) == {"description_ru", "description_de"}
    item_form |= {"description_ru": "Для вашего кофе", "description_de": "Für Ihren Kaffee"}
    assert client.post(f"/admin/rewards/catalogueitem/{mug.pk}/change/", item_form).status_code == 302
