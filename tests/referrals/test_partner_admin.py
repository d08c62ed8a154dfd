"""Staff pages for partners: bad batches refused by the form (the field named) and by the
database, the CSV export, manual attribution with its log and the override rule, and every one of
these pages refused to a non-staff user."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from billing import stripe_gateway
from referrals.manual_attribution import attribution_assign
from referrals.models import AttributionChange, PartnerCode, PartnerCodeBatch, Referral, ReferralSource
from tenants.models import Practice, User
from tests.factories import UserFactory
from tests.partner_support import a_batch, a_partner
from tests.stripe_helpers import Standin

pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]
ADMIN = "/admin/referrals/"


@pytest.fixture
def staff(public_tenant: Practice) -> User:
    return User.objects.create_superuser("staff@dentaltap.example", "x-Strong-pass-99", full_name="Staff")


@pytest.fixture
def staff_client(staff: User) -> Client:
    client = Client(HTTP_HOST="dentaltap.localhost")
    client.force_login(staff)
    return client


def _batch_form(partner_pk: int, **changes: Any) -> dict[str, Any]:
    return {
        "partner": partner_pk,
        "label": "Fair",
        "kind": "shared",
        "size": 1,
        "max_redemptions": "",
        "expires_at_0": (timezone.now() + datetime.timedelta(days=30)).strftime("%Y-%m-%d"),
        "expires_at_1": "12:00:00",
        "trial_days": 30,
        "stripe_coupon_id": "",
        "shared_code": "",
        **changes,
    }


BAD_BATCHES = {
    "a batch of 0": ({"kind": "single_use", "size": 0}, "size", "partner_batch_size_in_range"),
    "a shared code of 5": ({"size": 5}, "size", "partner_batch_shared_is_one_code"),
    "expiry in the past": (
        {"expires_at_0": "2020-01-01"},
        "expires_at",
        "partner_batch_expires_in_future",
    ),
    "no benefit": ({"trial_days": 0}, "trial_days", "partner_batch_has_benefit"),
    "a trial of two years": ({"trial_days": 730}, "trial_days", "partner_batch_trial_days_in_range"),
}
MODEL_VALUES = {
    "a batch of 0": {"kind": "single_use", "size": 0},
    "a shared code of 5": {"size": 5},
    "expiry in the past": {"expires_at": timezone.now() - datetime.timedelta(days=1)},
    "no benefit": {"trial_days": 0},
    "a trial of two years": {"trial_days": 730},
}


@pytest.mark.parametrize("case", BAD_BATCHES, ids=str)
def test_a_bad_batch_is_refused_by_the_form_naming_the_field_and_by_the_database(
    case: str, staff_client: Client
) -> None:
    partner = a_partner()
    changes, field, constraint = BAD_BATCHES[case]
    response = staff_client.post(f"{ADMIN}partnercodebatch/add/", _batch_form(partner.pk, **changes))
    assert response.status_code == 200  # the form again, with the error
    assert field in response.context["adminform"].form.errors, response.context["adminform"].form.errors
    assert not PartnerCodeBatch.objects.exists()

    values: dict[str, Any] = {"label": "x", "kind": "shared", "size": 1, "trial_days": 30, **MODEL_VALUES[case]}
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        PartnerCodeBatch.objects.create(partner=partner, **values)


def test_staff_create_a_single_use_batch_and_export_it_as_csv(staff_client: Client, stripe_standin: Standin) -> None:
    stripe_gateway.client().v1.coupons.create(params={"id": "SUP20", "percent_off": 20, "duration": "once"})
    partner = a_partner()
    response = staff_client.post(
        f"{ADMIN}partnercodebatch/add/", _batch_form(partner.pk, kind="single_use", size=25, stripe_coupon_id="SUP20")
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    batch = PartnerCodeBatch.objects.get()
    assert batch.codes.count() == 25
    export = staff_client.post(
        f"{ADMIN}partnercodebatch/", {"action": "export_codes_csv", "_selected_action": [batch.pk]}
    )
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert len(rows) == 25
    assert {row["code"].replace("-", "") for row in rows} == set(batch.codes.values_list("code", flat=True))


def test_a_chosen_shared_code_that_is_taken_is_refused_and_nothing_is_saved(staff_client: Client) -> None:
    partner = a_partner()
    a_batch(partner, shared_code="SMILE2026")
    response = staff_client.post(f"{ADMIN}partnercodebatch/add/", _batch_form(partner.pk, shared_code="smile-2026"))
    assert response.context["adminform"].form.errors["shared_code"] == ["This code is taken: choose another."]
    assert PartnerCodeBatch.objects.count() == 1 and PartnerCode.objects.count() == 1


# --------------------------------------------------------------------------- manual attribution


@pytest.fixture
def organic(make_practice: Any) -> tuple[User, Practice]:
    return make_practice("organic")


def test_staff_attribute_an_organic_practice_and_the_change_is_logged(
    staff_client: Client, staff: User, organic: tuple[User, Practice]
) -> None:
    owner, practice = organic
    dr_x = UserFactory(email="dr.x@example.com")
    response = staff_client.post(
        f"{ADMIN}attributionchange/add/",
        {"practice": practice.pk, "referrer_email": "Dr.X@example.com", "reason": "Dr. X sent me (phone call)"},
    )
    assert response.status_code == 302
    referral = Referral.objects.get(referred_user=owner)
    assert (referral.referrer, referral.source, referral.referred_practice) == (dr_x, ReferralSource.MANUAL, practice)
    change = AttributionChange.objects.get()
    assert (change.changed_by, change.reason, change.overrode) == (staff, "Dr. X sent me (phone call)", False)
    assert change.before == "Organic (no referrer)" and "dr.x@example.com" in change.after


def test_an_existing_attribution_is_never_taken_without_the_override(
    staff: User, organic: tuple[User, Practice], staff_client: Client
) -> None:
    owner, practice = organic
    first, thief = UserFactory(email="first@example.com"), UserFactory(email="thief@example.com")
    attribution_assign(practice=practice, staff=staff, reason="first", referrer=first)
    response = staff_client.post(
        f"{ADMIN}attributionchange/add/",
        {"practice": practice.pk, "referrer_email": "thief@example.com", "reason": "they said so"},
    )
    assert response.status_code == 200
    assert "already attributed" in str(response.context["form"].errors["override"])
    assert Referral.objects.get(referred_user=owner).referrer == first and AttributionChange.objects.count() == 1

    staff_client.post(
        f"{ADMIN}attributionchange/add/",
        {"practice": practice.pk, "referrer_email": "thief@example.com", "reason": "checked: thief", "override": "on"},
    )
    assert Referral.objects.get(referred_user=owner).referrer == thief
    change = AttributionChange.objects.order_by("-pk").first()
    assert change is not None and change.overrode and "first@example.com" in change.before
    assert "thief@example.com" in change.after


def test_a_partner_attribution_uses_the_partners_account_and_code(staff: User, organic: tuple[User, Practice]) -> None:
    owner, practice = organic
    partner = a_partner()
    code = a_batch(partner).codes.get()
    attribution_assign(practice=practice, staff=staff, reason="supplier's customer", partner=partner)
    referral = Referral.objects.get(referred_user=owner)
    assert (referral.referrer, referral.source, referral.partner_code) == (partner.account, "partner", code)


def test_a_reason_is_required_and_the_owner_cannot_refer_themselves(
    staff_client: Client, organic: tuple[User, Practice]
) -> None:
    owner, practice = organic
    blank = staff_client.post(f"{ADMIN}attributionchange/add/", {"practice": practice.pk, "referrer_email": "a@b.c"})
    assert "reason" in blank.context["form"].errors
    own = staff_client.post(
        f"{ADMIN}attributionchange/add/", {"practice": practice.pk, "referrer_email": owner.email, "reason": "x"}
    )
    assert "referrer_email" in own.context["form"].errors
    assert not Referral.objects.exists() and not AttributionChange.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "partner/",
        "partnercodebatch/",
        "partnercodebatch/add/",
        "partnerredemption/",
        "attributionchange/",
        "attributionchange/add/",
        "attributionchange/assign/",
    ],
)
def test_the_partner_pages_are_refused_to_a_non_staff_user(path: str, public_tenant: Practice) -> None:
    dentist = UserFactory()
    client = Client(HTTP_HOST="dentaltap.localhost")
    client.force_login(dentist)
    response = client.get(f"{ADMIN}{path}")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    posted = client.post(f"{ADMIN}{path}", {"reason": "steal", "referrer_email": dentist.email})
    assert posted.status_code == 302 and not AttributionChange.objects.exists()
