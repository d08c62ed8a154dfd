"""A plan's name in the reader's language: the Billing page and API, the practice's home page,
the limit refusal, and the seat-limit email in each recipient's own language; English for a plan
staff have not translated; and the plan admin, which refuses an offered plan without its Russian
and German names (also from the changelist's editable column, as a form error, never a crash)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from billing.limits import PlanLimitReached, practitioner_limit_check
from billing.models import Plan
from invitations import services
from tenants.models import JoinedVia, Role, User
from tenants.services import membership_create
from tests.factories import UserFactory
from tests.growth_support import Pair, invite, signup_data, token_for

# Only the home page test enters a practice's own tables (its patients count).
pytestmark = pytest.mark.django_db
rows_only = pytest.mark.practice_rows_only
ClientFor = Callable[..., Client]


def speaking(user: User, code: str) -> User:
    User.objects.filter(pk=user.pk).update(language=code)
    user.refresh_from_db()
    return user


def test_the_seeded_plans_have_their_russian_and_german_names() -> None:
    names = {plan.code: (plan.name, plan.name_ru, plan.name_de) for plan in Plan.objects.all()}
    assert names["freemium"] == ("Freemium", "Бесплатный", "Kostenlos")
    assert names["pro"] == ("Pro", "Pro", "Pro")


def test_the_billing_page_api_and_home_page_name_the_plan_in_the_users_language(
    practice_a: Pair, client_for: ClientFor
) -> None:
    owner, alpha = practice_a
    russian = client_for(speaking(owner, "ru"), alpha, HTTP_ACCEPT_LANGUAGE="ru")
    billing = russian.get("/billing/").content.decode()
    assert '<strong data-testid="plan">Бесплатный</strong>' in billing
    assert "Перейти на Pro" in billing
    assert "Бесплатный" in russian.get("/").content.decode()  # "… · тариф Бесплатный"
    assert russian.get("/api/billing/").json()["plan_name"] == "Бесплатный"

    german = client_for(speaking(owner, "de"), alpha, HTTP_ACCEPT_LANGUAGE="de")
    assert '<strong data-testid="plan">Kostenlos</strong>' in german.get("/billing/").content.decode()
    assert german.get("/api/billing/").json()["plan_name"] == "Kostenlos"

    english = client_for(speaking(owner, "en"), alpha, HTTP_ACCEPT_LANGUAGE="en")
    assert english.get("/api/billing/").json()["plan_name"] == "Freemium"


@rows_only
def test_a_plan_without_translations_is_named_in_english(practice_a: Pair, client_for: ClientFor) -> None:
    owner, alpha = practice_a
    Plan.objects.filter(code="freemium").update(name="Starter", name_ru="", name_de="")
    client = client_for(speaking(owner, "de"), alpha, HTTP_ACCEPT_LANGUAGE="de")
    assert client.get("/api/billing/").json()["plan_name"] == "Starter"
    assert '<strong data-testid="plan">Starter</strong>' in client.get("/billing/").content.decode()


@rows_only
def test_the_limit_refusal_names_the_plan_in_the_active_language(practice_a: Pair) -> None:
    _owner, alpha = practice_a
    membership_create(user=UserFactory(), practice=alpha, role=Role.DENTIST, joined_via=JoinedVia.INVITATION)
    with translation.override("de"), pytest.raises(PlanLimitReached) as refused:
        practitioner_limit_check(practice=alpha, role=Role.DENTIST)
    assert "Der Tarif Kostenlos erlaubt 2 Behandler" in refused.value.message


@rows_only
def test_the_seat_limit_email_names_the_plan_in_each_recipients_language(
    practice_a: Pair, client_for: ClientFor, outbox: list[Any]
) -> None:
    owner, alpha = practice_a
    speaking(owner, "ru")
    manager = speaking(UserFactory(email="manager@example.com"), "de")
    membership_create(user=manager, practice=alpha, role=Role.PRACTICE_ADMIN, joined_via=JoinedVia.INVITATION)
    membership_create(user=UserFactory(), practice=alpha, role=Role.DENTIST, joined_via=JoinedVia.INVITATION)
    invitation = invite(alpha, owner, "nina@example.com", role=Role.DENTIST).created[0]
    assert client_for().post(f"/invitations/{token_for(invitation)}/", signup_data()).status_code == 409

    assert services.invitation_seat_limit_notify(invitation_id=invitation.pk) == 2
    bodies = {mail.to[0]: mail.body for mail in outbox}
    assert "Бесплатный" in bodies[owner.email] and "Kostenlos" not in bodies[owner.email]
    assert "Kostenlos" in bodies["manager@example.com"] and "Бесплатный" not in bodies["manager@example.com"]


@pytest.fixture
def staff(public_tenant: Any) -> User:
    return User.objects.create_superuser("staff@dentaltap.example", "x-Strong-pass-99", full_name="Staff")


def _plan_form(**changes: Any) -> dict[str, Any]:
    return {
        "code": "team",
        "name": "Team",
        "name_ru": "Команда",
        "name_de": "Team",
        "price_cents": 9900,
        "currency": "usd",
        "interval": "month",
        "stripe_price_id": "price_team_monthly",
        "max_patients": "",
        "max_practitioners": "",
        "is_active": "on",
        "sort_order": 20,
        **changes,
    }


def test_the_plan_admin_refuses_an_offered_plan_without_its_three_names(staff: User, client_for: ClientFor) -> None:
    client = client_for(staff)
    refused = client.post("/admin/billing/plan/add/", _plan_form(name_ru=""))
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["name_ru"][0].startswith("Needed in Russian:")
    assert not Plan.objects.filter(code="team").exists()
    assert client.post("/admin/billing/plan/add/", _plan_form(name_ru="", is_active="")).status_code == 302

    # Offering the untranslated plan from the changelist's editable column: refused on the form,
    # naming the field and the language, instead of Django's ValueError for a field not shown.
    team = Plan.objects.get(code="team")
    plans = list(Plan.objects.all())
    data = {"form-TOTAL_FORMS": str(len(plans)), "form-INITIAL_FORMS": str(len(plans)), "_save": "Save"}
    for index, plan in enumerate(plans):
        data[f"form-{index}-id"] = str(plan.pk)
        if plan.is_active or plan.pk == team.pk:
            data[f"form-{index}-is_active"] = "on"
    response = client.post("/admin/billing/plan/", data)
    assert response.status_code == 200
    assert "Name in Russian: Needed in Russian:" in response.content.decode()
    team.refresh_from_db()
    assert not team.is_active
