"""Staff find the rows dentists would read in English: the admin's "translations" filter on
plans (and programs, rules, catalogue items), missing vs complete, in each admin language."""

from __future__ import annotations

import pytest
from django.test import Client

from billing.models import Plan
from tenants.models import Practice
from tests.conftest import BASE
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_plans_list_filters_rows_missing_a_translation(public_tenant: Practice) -> None:
    Plan.objects.create(code="old-plan", name="Old Plan", name_ru="", name_de="Alter Tarif", stripe_price_id="price_o")
    Plan.objects.create(code="blank-ru", name="Blank Plan", name_ru="  ", name_de="Leer", stripe_price_id="price_b")
    Plan.objects.create(code="whole", name="Whole Plan", name_ru="Полный", name_de="Ganz", stripe_price_id="price_w")
    staff = UserFactory(email="filter@dentaltap.example", is_staff=True, is_superuser=True)
    client = Client(HTTP_HOST=BASE)
    client.force_login(staff)
    missing = client.get("/admin/billing/plan/?translations=missing").content.decode()
    complete = client.get("/admin/billing/plan/?translations=complete").content.decode()
    assert "Old Plan" in missing and "Blank Plan" in missing and "Whole Plan" not in missing
    assert "Whole Plan" in complete and "Old Plan" not in complete and "Blank Plan" not in complete
    for language, words in (("ru", ("переводы", "нет перевода")), ("de", ("Übersetzungen", "Übersetzung fehlt"))):
        staff.language = language  # the staff member's own language wins over the browser's
        staff.save(update_fields=["language"])
        page = client.get("/admin/billing/plan/").content.decode()
        assert all(word in page for word in words), language
    assert "Whole Plan" in client.get("/admin/billing/plan/?translations=bogus").content.decode()  # all, no error
    for path in ("/admin/rewards/referralprogram/", "/admin/rewards/rewardrule/", "/admin/rewards/catalogueitem/"):
        assert client.get(f"{path}?translations=missing").status_code == 200, path
