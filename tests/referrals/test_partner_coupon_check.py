"""A partner batch's Stripe coupon is asked of Stripe (the SDK, over HTTP to the local stand-in)
when staff save the batch: a coupon Stripe does not know, or can no longer redeem, is refused
beside the field, and Stripe out of reach is said there too; nothing is saved unchecked."""

from __future__ import annotations

import datetime
import socket
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from billing import stripe_gateway
from referrals.models import PartnerCode, PartnerCodeBatch
from tenants.models import Practice, User
from tests.partner_support import a_partner
from tests.stripe_helpers import Standin

pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]
ADD = "/admin/referrals/partnercodebatch/add/"


@pytest.fixture
def staff_client(public_tenant: Practice) -> Client:
    staff = User.objects.create_superuser("staff@dentaltap.example", "x-Strong-pass-99", full_name="Staff")
    client = Client(HTTP_HOST="dentaltap.localhost")
    client.force_login(staff)
    return client


def _form(partner_pk: int, coupon: str, **changes: Any) -> dict[str, Any]:
    return {
        "partner": partner_pk, "label": "Fair", "kind": "shared", "size": 1, "max_redemptions": "",
        "expires_at_0": (timezone.now() + datetime.timedelta(days=30)).strftime("%Y-%m-%d"),
        "expires_at_1": "12:00:00", "trial_days": 30, "stripe_coupon_id": coupon, "shared_code": "", **changes,
    }  # fmt: skip


def _coupon_errors(response: Any) -> list[str]:
    assert response.status_code == 200  # the form again
    return list(response.context["adminform"].form.errors.get("stripe_coupon_id", []))


def test_a_coupon_stripe_has_is_checked_and_the_batch_saved(staff_client: Client, stripe_standin: Standin) -> None:
    stripe_gateway.client().v1.coupons.create(params={"id": "SUPPLIER20", "percent_off": 20, "duration": "once"})
    response = staff_client.post(ADD, _form(a_partner().pk, " SUPPLIER20 ", trial_days=0))
    assert response.status_code == 302
    assert PartnerCodeBatch.objects.get().stripe_coupon_id == "SUPPLIER20"
    (lookup,) = stripe_standin.requests("/v1/coupons/SUPPLIER20")
    assert (lookup["method"], lookup["outcome"]) == ("GET", "read")


def test_an_unknown_coupon_is_refused_beside_the_field_and_nothing_is_saved(
    staff_client: Client, stripe_standin: Standin
) -> None:
    stripe_gateway.client().v1.coupons.create(params={"id": "SUPPLIER20", "percent_off": 20, "duration": "once"})
    response = staff_client.post(ADD, _form(a_partner().pk, "SUPLIER20", trial_days=0))
    (error,) = _coupon_errors(response)
    assert "Stripe has no coupon “SUPLIER20”" in error and "create it in Stripe first" in error
    # The one problem is the coupon: not also "give the codes a benefit" beside the trial days.
    assert list(response.context["adminform"].form.errors) == ["stripe_coupon_id"]
    assert not PartnerCodeBatch.objects.exists() and not PartnerCode.objects.exists()
    assert [call["path"] for call in stripe_standin.requests("/v1/coupons/")] == ["/v1/coupons/SUPLIER20"]


def test_a_coupon_stripe_can_no_longer_redeem_is_refused(staff_client: Client, stripe_standin: Standin) -> None:
    stripe_gateway.client().v1.coupons.create(params={"id": "SPRING25", "percent_off": 25, "duration": "once"})
    stripe_standin.state.coupons["SPRING25"]["valid"] = False  # Stripe's flag once it expired or was used up
    (error,) = _coupon_errors(staff_client.post(ADD, _form(a_partner().pk, "SPRING25")))
    assert "can no longer be redeemed" in error
    assert not PartnerCodeBatch.objects.exists()


def test_stripe_out_of_reach_is_said_beside_the_field_and_nothing_is_saved(staff_client: Client, settings: Any) -> None:
    with socket.socket() as probe:  # a port nothing listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{closed_port}"
    stripe_gateway._client.cache_clear()
    try:
        (error,) = _coupon_errors(staff_client.post(ADD, _form(a_partner().pk, "SUPPLIER20")))
    finally:
        stripe_gateway._client.cache_clear()
    assert "Stripe could not be reached" in error and "nothing was saved" in error
    assert not PartnerCodeBatch.objects.exists()


def test_the_german_form_says_it_in_german(staff_client: Client, stripe_standin: Standin) -> None:
    User.objects.filter(email="staff@dentaltap.example").update(language="de")
    response = staff_client.post(ADD, _form(a_partner().pk, "NOPE"))
    (error,) = _coupon_errors(response)
    assert "Stripe kennt keinen Gutschein „NOPE“" in error
