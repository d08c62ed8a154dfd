"""Partner codes at signup (every door) and on the Billing page: the code attributes the practice
to the partner only when nothing came first, gives its benefit either way, and a bad code
(unknown, guessed, expired, used up) refuses the signup with the field named and nothing written.
Single-use codes and maximum redemptions hold under real threads."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from accounts.services import account_signup
from billing.models import Payment, PracticeAccount
from dentaltap.errors import ApplicationError
from referrals import partners
from referrals import services as referral_services
from referrals.models import PartnerCode, PartnerCodeKind, PartnerRedemption, Referral, ReferralSource
from tenants.models import JoinedVia, Practice, Role, User
from tests.accounts.test_signup_doors import DOORS, NEWCOMER, _client, _refusal
from tests.concurrency import run_together
from tests.factories import UserFactory
from tests.growth_support import PASSWORD, Pair, invite, signup_data, token_for
from tests.partner_support import a_batch, a_partner

pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only("alpha")]


@pytest.fixture
def world(practice_a: Pair) -> dict[str, str]:
    """As the doors' test has it: alpha's owner has a referral code and invited the newcomer."""
    owner, alpha = practice_a
    batch = invite(alpha, owner, NEWCOMER)
    return {
        "code": referral_services.referral_code_get_or_create(user=owner).code,
        "token": token_for(batch.created[0]),
    }


@pytest.fixture
def shared() -> PartnerCode:
    batch = a_batch(a_partner(), shared_code="molar-2026", max_redemptions=5, trial_days=45)
    return batch.codes.get()


@pytest.mark.parametrize("door", DOORS, ids=lambda door: door.name)
def test_a_partner_code_at_every_door_gives_its_benefit_and_attributes_only_without_a_first_touch(
    door: Any, world: dict[str, str], practice_a: Pair, shared: PartnerCode
) -> None:
    owner, _alpha = practice_a
    response = door.post(_client(), {**signup_data(), "email": NEWCOMER, "partner_code": " Molar-2026 "}, world)

    assert response.status_code == (201 if door.is_api else 302), getattr(response, "content", b"")[:500]
    practice = Practice.objects.get(slug="kraus")
    redemption = PartnerRedemption.objects.get(practice=practice)
    assert PracticeAccount.objects.get(practice=practice).checkout_trial_days == 45
    assert PartnerCode.objects.get(pk=shared.pk).redemptions == 1
    referral = Referral.objects.get(referred_user__email=NEWCOMER)
    if door.kind == "plain":  # nothing came first: the partner's
        assert redemption.attributed
        assert (referral.source, referral.referrer, referral.partner_code) == (
            ReferralSource.PARTNER,
            shared.batch.partner.account,
            shared,
        )
    else:  # a referral link or an invitation came first and keeps the practice
        assert not redemption.attributed
        assert referral.referrer == owner and referral.partner_code is None


BAD_CODES = {
    "unknown": ("NOSUCHCODE1", "There is no such partner code. Check it and try again."),
    "guessed": ("7KQ2-M9XD-4TNP", "There is no such partner code. Check it and try again."),
    "too short": ("ab", "There is no such partner code. Check it and try again."),
    "expired": ("MOLAR2026", "This partner code has expired."),
    "used up": ("MOLAR2026", "This partner code has already been used."),
    "inactive partner": ("MOLAR2026", "There is no such partner code. Check it and try again."),
}


@pytest.mark.parametrize("case", BAD_CODES, ids=str)
def test_a_bad_code_refuses_the_signup_at_every_door_naming_the_field_and_writing_nothing(
    case: str, world: dict[str, str], shared: PartnerCode
) -> None:
    raw, message = BAD_CODES[case]
    if case == "expired":
        shared.batch.__class__.objects.filter(pk=shared.batch_id).update(
            created_at=timezone.now() - datetime.timedelta(days=2),
            expires_at=timezone.now() - datetime.timedelta(minutes=1),
        )
    if case == "used up":
        PartnerCode.objects.filter(pk=shared.pk).update(redemptions=5)
    if case == "inactive partner":
        shared.batch.partner.__class__.objects.update(is_active=False)
    before = (User.objects.count(), Practice.objects.count(), PartnerCode.objects.get(pk=shared.pk).redemptions)
    for door in DOORS:
        status, fields = _refusal(
            door, door.post(_client(), {**signup_data(), "email": NEWCOMER, "partner_code": raw}, world)
        )
        assert status == 400 and fields.get("partner_code") == [message], (door.name, status, fields)
        after = (User.objects.count(), Practice.objects.count(), PartnerCode.objects.get(pk=shared.pk).redemptions)
        assert after == before, door.name
        assert not PartnerRedemption.objects.exists() and not Referral.objects.exists()


def test_the_code_error_comes_with_the_other_field_errors_at_once(public_tenant: Practice, shared: PartnerCode) -> None:
    response = _client().post(
        "/api/signup/", {**signup_data(password="short"), "email": NEWCOMER, "partner_code": "NOPE-NOPE"}
    )
    assert response.status_code == 400
    assert {"password", "partner_code"} <= set(response.json()["error"]["fields"])


def _signup(number: int, code: str) -> Any:
    return account_signup(
        email=f"racer{number}@example.com",
        password=PASSWORD,
        full_name=f"Racer {number}",
        practice_name=f"Racer {number}",
        practice_slug=f"racer-{number}",
        partner_code=code,
    )


@pytest.mark.django_db(transaction=True)
def test_a_single_use_code_used_by_two_signups_at_once_goes_to_one_the_other_gets_a_clear_error(
    public_tenant: Practice,
) -> None:
    batch = a_batch(a_partner(), kind=PartnerCodeKind.SINGLE_USE, size=3)
    code = batch.codes.order_by("pk").first()
    assert code is not None
    results = run_together(*[lambda n=n: _signup(n, code.code) for n in range(2)])

    refused = [result for result in results if isinstance(result, ApplicationError)]
    assert len(refused) == 1 and refused[0].fields == {"partner_code": ["This partner code has already been used."]}
    assert PartnerCode.objects.get(pk=code.pk).redemptions == 1
    assert PartnerRedemption.objects.count() == 1 and Practice.objects.filter(slug__startswith="racer").count() == 1
    assert User.objects.filter(email__startswith="racer").count() == 1  # the loser's signup left nothing


@pytest.mark.django_db(transaction=True)
def test_maximum_redemptions_hold_under_real_threads(public_tenant: Practice) -> None:
    code = a_batch(a_partner(), shared_code="FAIR2026", max_redemptions=2).codes.get()
    results = run_together(*[lambda n=n: _signup(n, "fair2026") for n in range(4)])

    assert sum(not isinstance(result, ApplicationError) for result in results) == 2
    assert PartnerCode.objects.get(pk=code.pk).redemptions == 2 == PartnerRedemption.objects.count()


def test_generated_codes_are_unguessable_and_unique(db: None) -> None:
    batch = a_batch(a_partner(), kind=PartnerCodeKind.SINGLE_USE, size=200)
    codes = list(batch.codes.values_list("code", flat=True))
    assert len(set(codes)) == 200
    assert all(len(code) == partners.GENERATED_LENGTH and set(code) <= set(partners.ALPHABET) for code in codes)
    assert set(batch.codes.values_list("max_redemptions", flat=True)) == {1}


# --------------------------------------------------------------------------- the Billing page


@pytest.fixture
def owner_practice(make_practice: Any) -> Pair:
    return make_practice("clinic", schema=False)


def test_the_owner_enters_a_code_on_the_billing_page_before_the_first_payment(
    owner_practice: Pair, shared: PartnerCode, client_for: Any
) -> None:
    owner, practice = owner_practice
    client = client_for(owner, practice)
    page = client.get("/billing/")
    assert b'action="/billing/partner-code/"' in page.content

    response = client.post("/billing/partner-code/", {"partner_code": "molar2026"}, follow=True)
    assert b"Partner code accepted" in response.content
    assert b'data-testid="partner-benefit"' in response.content
    redemption = PartnerRedemption.objects.get(practice=practice)
    assert redemption.attributed and redemption.place == "billing"
    assert Referral.objects.get(referred_practice=practice).source == ReferralSource.PARTNER

    again = client.post("/api/billing/partner-code/", {"partner_code": "molar2026"}, content_type="application/json")
    assert again.status_code == 400
    assert again.json()["error"]["fields"] == {"partner_code": ["This practice has already used a partner code."]}


def test_a_bad_code_on_the_billing_page_is_a_form_error_beside_the_field_keeping_what_was_typed(
    owner_practice: Pair, shared: PartnerCode, client_for: Any
) -> None:
    owner, practice = owner_practice
    client = client_for(owner, practice)
    response = client.post("/billing/partner-code/", {"partner_code": "NOSUCH77"})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-testid="partner-code-error"' in page and 'aria-invalid="true"' in page
    assert 'value="NOSUCH77"' in page
    assert 'data-testid="credit-balance"' in page  # the whole Billing page, not a bare error
    assert not PartnerRedemption.objects.exists() and PartnerCode.objects.get(pk=shared.pk).redemptions == 0

    russian = client.post("/billing/partner-code/", {"partner_code": "NOSUCH77"}, HTTP_ACCEPT_LANGUAGE="ru")
    assert russian.status_code == 400 and 'data-testid="partner-code-error"' in russian.content.decode()


def test_after_the_first_payment_a_code_is_refused(owner_practice: Pair, shared: PartnerCode, client_for: Any) -> None:
    owner, practice = owner_practice
    Payment.objects.create(
        stripe_invoice_id="in_paid",
        practice=practice,
        stripe_customer_id="cus_x",
        amount_cents=4900,
        currency="usd",
        paid_at=timezone.now(),
    )
    response = client_for(owner, practice).post(
        "/api/billing/partner-code/", {"partner_code": "MOLAR2026"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "partner_code_after_payment"
    assert not PartnerRedemption.objects.exists()


def test_a_member_without_billing_rights_and_another_practices_owner_are_refused(
    owner_practice: Pair, shared: PartnerCode, client_for: Any, make_practice: Any
) -> None:
    from tenants.team.services import membership_create

    _owner, practice = owner_practice
    assistant = UserFactory()
    membership_create(user=assistant, practice=practice, role=Role.ASSISTANT, joined_via=JoinedVia.INVITATION)
    outsider, _other = make_practice("other", schema=False)
    for user in (assistant, outsider):
        response = client_for(user, practice).post(
            "/api/billing/partner-code/", {"partner_code": "MOLAR2026"}, content_type="application/json"
        )
        assert response.status_code in (403, 404)
    assert not PartnerRedemption.objects.exists() and PartnerCode.objects.get(pk=shared.pk).redemptions == 0


def test_guessing_codes_on_the_billing_page_is_rate_limited(
    owner_practice: Pair, shared: PartnerCode, client_for: Any, settings: Any
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "partner_code": {"practice": (3, 3600)}}
    owner, practice = owner_practice
    client = client_for(owner, practice)
    statuses = [
        client.post("/api/billing/partner-code/", {"partner_code": f"GUESS{n:04d}"}, content_type="application/json")
        for n in range(4)
    ]
    assert [response.status_code for response in statuses] == [400, 400, 400, 429]
    assert not PartnerRedemption.objects.exists()
