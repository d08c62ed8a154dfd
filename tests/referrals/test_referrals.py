"""Referral links: code, visit, first-touch cookie, signup with attribution, access requests
(approve, decline, withdraw, guest at once) and eligibility reasons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError
from django.test import Client
from django_tenants.utils import schema_context

from accounts.services import SignupResult, account_signup
from dentaltap.errors import ApplicationError
from provisioning.services import spare_schemas_refill_later
from referrals import services
from referrals.models import (
    AccessRequest,
    AccessRequestStatus,
    Eligibility,
    EligibilityReason,
    Referral,
    ReferralCode,
    ReferralSource,
    ReferralVisit,
)
from tenants.models import JoinedVia, Membership, Practice, Role, User
from tests.factories import UserFactory
from tests.growth_support import Pair, signup_data

# The practices here are their public rows only: no test enters a practice's tables (conftest).
pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]
ClientFor = Callable[..., Client]


def landing_signup(client: Client, code: str, **changes: Any) -> Any:
    data = {**signup_data(), "email": "nina@example.com", "request_access": "on", **changes}
    return client.post(f"/r/{code}/", {key: value for key, value in data.items() if value is not None})


def referral_signup(code: str | None, email: str, slug: str, **extra: Any) -> SignupResult:
    with schema_context("public"):
        return account_signup(
            **signup_data(practice_slug=slug), email=email, referral_code=code, referral_link_code=code, **extra
        )


def test_referral_code_is_created_once_and_is_url_safe(practice_a: Pair) -> None:
    owner, _ = practice_a
    code = services.referral_code_get_or_create(user=owner)
    assert services.referral_code_get_or_create(user=owner) == code
    assert len(code.code) >= 8 and code.code.replace("-", "").replace("_", "").isalnum()


def test_landing_records_the_visit_sets_the_cookie_and_names_the_referrer(
    practice_a: Pair, client_for: ClientFor
) -> None:
    owner, alpha = practice_a
    code = services.referral_code_get_or_create(user=owner).code
    client = client_for(HTTP_REFERER="https://messenger.example/chat", HTTP_USER_AGENT="TestBrowser/1.0")
    page = client.get(f"/r/{code}/")
    assert page.status_code == 200
    content = page.content.decode()
    assert f"{owner.full_name} invited you to DentalTap" in content
    assert f"Also ask for access to {alpha.name}" in content
    visit = ReferralVisit.objects.get()
    assert (visit.referer, visit.user_agent, visit.ip_address, visit.landing_path) == (
        "https://messenger.example/chat",
        "TestBrowser/1.0",
        "127.0.0.1",
        f"/r/{code}/",
    )
    cookie = page.cookies["dentaltap_ref"]
    assert cookie["httponly"] and int(cookie["max-age"]) == 60 * 24 * 3600
    assert code in cookie.value and ":" in cookie.value  # signed


def test_first_touch_wins_and_a_forged_cookie_is_ignored(
    practice_a: Pair, practice_b: Pair, client_for: ClientFor
) -> None:
    first_owner, _alpha = practice_a
    second_owner, bravo = practice_b
    first = services.referral_code_get_or_create(user=first_owner).code
    second = services.referral_code_get_or_create(user=second_owner).code
    client = client_for()
    client.get(f"/r/{first}/")
    assert "dentaltap_ref" not in client.get(f"/r/{second}/").cookies  # not replaced
    assert landing_signup(client, second).status_code == 302

    user = User.objects.get(email="nina@example.com")
    referral = Referral.objects.get(referred_user=user)
    assert referral.referrer == first_owner  # attribution: the first link opened
    # ...while the access request goes to the practice of the link they signed up from.
    assert AccessRequest.objects.get(requester=user).practice == bravo

    forged = client_for()
    forged.cookies["dentaltap_ref"] = second  # unsigned: ignored
    assert forged.post("/signup/", {**signup_data(practice_slug="forged"), "email": "f@example.com"}).status_code == 302
    assert not Referral.objects.filter(referred_user__email="f@example.com").exists()


def test_unknown_code_shows_the_normal_signup_without_attribution(
    public_tenant: Practice, client_for: ClientFor
) -> None:
    client = client_for()
    response = client.get("/r/doesnotexist/", follow=True)
    assert response.status_code == 200 and b"Create your practice" in response.content
    assert "dentaltap_ref" not in client.cookies and ReferralVisit.objects.count() == 0
    client.post("/signup/", {**signup_data(), "email": "nina@example.com"})
    assert User.objects.filter(email="nina@example.com").exists() and Referral.objects.count() == 0


def test_link_signup_creates_own_practice_referral_and_an_access_request_the_owner_approves(
    practice_a: Pair, client_for: ClientFor, outbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    owner, alpha = practice_a
    code = services.referral_code_get_or_create(user=owner).code
    client = client_for()
    client.get(f"/r/{code}/")
    with django_capture_on_commit_callbacks() as callbacks:
        response = landing_signup(client, code)
    assert response.status_code == 302 and response["Location"].startswith("http://kraus.")
    # The owners' notification, after commit (besides the spare-schema pool's refill and the new
    # practice's "practice created" milestone).
    others = [
        callback
        for callback in callbacks
        if callback is not spare_schemas_refill_later and not callback.__qualname__.startswith("milestone_record.")
    ]
    assert len(others) == 1

    user = User.objects.get(email="nina@example.com")
    assert Membership.objects.get(user=user, role=Role.OWNER).practice.slug == "kraus"
    assert not Membership.objects.filter(user=user, practice=alpha).exists()  # nothing opened yet
    referral = Referral.objects.get(referred_user=user)
    assert (referral.referrer, referral.source, referral.eligibility) == (
        owner,
        ReferralSource.LINK,
        Eligibility.ELIGIBLE,
    )
    access_request = AccessRequest.objects.get(requester=user)
    assert (access_request.practice, access_request.status) == (alpha, AccessRequestStatus.PENDING)

    from referrals.notifications import access_request_notify

    assert access_request_notify(access_request_id=access_request.pk) == 1
    assert access_request_notify(access_request_id=access_request.pk) == 0  # safe twice
    assert outbox[0].to == [owner.email]
    assert f"/access-requests/{access_request.pk}/" in outbox[0].body

    owner_client = client_for(owner, alpha)
    listing = owner_client.get("/access-requests/")
    assert listing.status_code == 200 and b"nina@example.com" in listing.content
    review = owner_client.get(f"/access-requests/{access_request.pk}/")  # from the email: GET only shows it
    assert review.status_code == 200 and b"Approve" in review.content
    assert AccessRequest.objects.get(pk=access_request.pk).status == AccessRequestStatus.PENDING
    approved = owner_client.post(f"/access-requests/{access_request.pk}/", {"action": "approve"})
    assert approved.status_code == 302
    membership = Membership.objects.get(user=user, practice=alpha)
    assert (membership.role, membership.joined_via) == (Role.GUEST, JoinedVia.REFERRAL_LINK)
    twice = owner_client.post(f"/access-requests/{access_request.pk}/", {"action": "decline"})
    assert twice.status_code == 400 and b"already answered" in twice.content


def test_newcomer_may_decline_access_up_front_or_withdraw_later_and_keeps_practice_and_attribution(
    practice_a: Pair, client_for: ClientFor
) -> None:
    owner, _ = practice_a
    code = services.referral_code_get_or_create(user=owner).code
    client = client_for()
    landing_signup(client, code, request_access=None)  # unticked
    user = User.objects.get(email="nina@example.com")
    assert not AccessRequest.objects.filter(requester=user).exists()
    assert Referral.objects.filter(referred_user=user, referrer=owner).exists()

    later = referral_signup(code, "olga@example.com", "olga")
    assert later.access_request is not None
    response = client_for(later.user).post(f"/referrals/access-requests/{later.access_request.pk}/withdraw/")
    assert response.status_code == 302
    assert AccessRequest.objects.get(pk=later.access_request.pk).status == AccessRequestStatus.WITHDRAWN
    assert Referral.objects.filter(referred_user=later.user).exists()
    assert Membership.objects.filter(user=later.user, role=Role.OWNER).exists()


def test_practice_setting_lets_links_grant_guest_access_at_once(practice_a: Pair, client_for: ClientFor) -> None:
    owner, alpha = practice_a
    code = services.referral_code_get_or_create(user=owner).code
    response = client_for(owner, alpha).put(
        "/api/referral-settings/", {"links_grant_guest_access": True}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json() == {"links_grant_guest_access": True}

    result = referral_signup(code, "nina@example.com", "kraus")
    assert result.access_request is None
    assert result.guest_membership is not None and result.guest_membership.role == Role.GUEST
    # A guest sees no patient data.
    guest = client_for(result.user, alpha)
    assert guest.get("/").status_code == 200
    assert guest.get("/patients/").status_code == 403


def test_access_request_api_approve_decline_and_permissions(practice_a: Pair, client_for: ClientFor) -> None:
    owner, alpha = practice_a
    code = services.referral_code_get_or_create(user=owner).code
    first = referral_signup(code, "one@example.com", "one").access_request
    second = referral_signup(code, "two@example.com", "two").access_request
    assert first is not None and second is not None

    dentist = UserFactory()
    Membership.objects.create(user=dentist, practice=alpha, role=Role.DENTIST, joined_via=JoinedVia.INVITATION)
    assert client_for(dentist, alpha).get("/api/access-requests/").status_code == 403
    assert client_for(dentist, alpha).post(f"/api/access-requests/{first.pk}/approve/").status_code == 403
    assert client_for(dentist, alpha).get("/access-requests/").status_code == 403

    api = client_for(owner, alpha)
    assert [row["requester_email"] for row in api.get("/api/access-requests/").json()] == [
        "one@example.com",
        "two@example.com",
    ]
    approved = api.post(
        f"/api/access-requests/{first.pk}/approve/", {"role": "assistant"}, content_type="application/json"
    )
    assert approved.status_code == 200 and approved.json()["granted_role"] == "assistant"
    declined = api.post(f"/api/access-requests/{second.pk}/decline/")
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    assert not Membership.objects.filter(user__email="two@example.com", practice=alpha).exists()
    conflict = api.post(f"/api/access-requests/{second.pk}/approve/")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "already_decided"


def test_api_signup_through_a_referral_code(practice_a: Pair, client_for: ClientFor) -> None:
    owner, _ = practice_a
    code = services.referral_code_get_or_create(user=owner).code
    response = client_for().post(
        "/api/referrals/signup/",
        {**signup_data(), "email": "nina@example.com", "referral_code": code},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["referral_id"] and response.json()["access_request_id"]
    unknown = client_for().post(
        "/api/referrals/signup/",
        {**signup_data(practice_slug="other"), "email": "o@example.com", "referral_code": "nope"},
        content_type="application/json",
    )
    assert unknown.status_code == 201 and unknown.json()["referral_id"] is None

    me = client_for(owner).get("/api/referrals/me/").json()
    assert me["code"] == code and me["link"].endswith(f"/r/{code}/") and me["signups"] == 1


def record(referrer: User, email: str) -> Referral:
    """Eligibility is decided the same way for every signup path; a plain user is enough here."""
    return services.referral_record(
        referrer=referrer, referred_user=UserFactory(email=email), referred_practice=None, source=ReferralSource.LINK
    )


@pytest.mark.parametrize(
    ("referrer_email", "new_email", "eligibility", "reason"),
    [
        (
            "John.Doe@gmail.com",
            "johndoe+dental@googlemail.com",
            Eligibility.INELIGIBLE,
            EligibilityReason.SELF_REFERRAL,
        ),
        ("anna@outlook.com", "anna+2@outlook.com", Eligibility.INELIGIBLE, EligibilityReason.SELF_REFERRAL),
        ("ref@example.com", "nina@mailinator.com", Eligibility.REVIEW, EligibilityReason.DISPOSABLE_EMAIL),
        ("ref@example.com", "nina@x.yopmail.com", Eligibility.REVIEW, EligibilityReason.DISPOSABLE_EMAIL),
        ("ref@example.com", "first.last@example.com", Eligibility.ELIGIBLE, EligibilityReason.NONE),
    ],
)
def test_eligibility_reasons(
    public_tenant: Practice, referrer_email: str, new_email: str, eligibility: str, reason: str
) -> None:
    referral = record(UserFactory(email=referrer_email.lower()), new_email)
    assert (referral.eligibility, referral.eligibility_reason) == (eligibility, reason)
    assert bool(referral.eligibility_note) == (eligibility != Eligibility.ELIGIBLE)


def test_a_flagged_signup_still_gets_its_account_and_practice(practice_a: Pair) -> None:
    owner, _ = practice_a
    code = services.referral_code_get_or_create(user=owner).code
    result = referral_signup(code, "x@mailinator.com", "newcomer")
    assert result.user.is_active and result.practice.slug == "newcomer" and result.referral is not None
    assert result.referral.eligibility == Eligibility.REVIEW  # flagged for staff, not blocked


def test_a_mailbox_already_registered_under_another_spelling_is_not_eligible(public_tenant: Practice) -> None:
    UserFactory(email="maria.k@gmail.com")
    referral = record(UserFactory(email="ref@example.com"), "mariak+2@gmail.com")
    assert referral.eligibility_reason == EligibilityReason.EMAIL_REGISTERED


def test_velocity_limit_per_referrer(public_tenant: Practice, settings: Any) -> None:
    settings.REFERRAL_VELOCITY_LIMIT_PER_DAY = 2
    referrer = UserFactory()
    reasons = [record(referrer, f"n{number}@example.com").eligibility_reason for number in range(3)]
    assert reasons == ["", "", EligibilityReason.VELOCITY_LIMIT]


def test_a_user_is_referred_at_most_once(public_tenant: Practice) -> None:
    referrer, referred = UserFactory(), UserFactory()
    services.referral_record(referrer=referrer, referred_user=referred, referred_practice=None, source="link")
    with pytest.raises(IntegrityError):
        services.referral_record(referrer=referrer, referred_user=referred, referred_practice=None, source="link")


def test_failed_link_signup_leaves_nothing_behind(practice_a: Pair, client_for: ClientFor) -> None:
    owner, _ = practice_a
    code = services.referral_code_get_or_create(user=owner).code
    counts = (User.objects.count(), Practice.objects.count(), Membership.objects.count())
    with pytest.raises(ApplicationError):
        referral_signup(code, "nina@example.com", "alpha")  # slug taken
    response = landing_signup(client_for(), code, practice_slug="admin")
    assert response.status_code == 400 and b"reserved" in response.content
    assert (User.objects.count(), Practice.objects.count(), Membership.objects.count()) == counts
    assert Referral.objects.count() == 0 and AccessRequest.objects.count() == 0


def test_my_referrals_page_shows_the_link_and_figures(practice_a: Pair, client_for: ClientFor) -> None:
    owner, _ = practice_a
    page = client_for(owner).get("/referrals/")
    code = ReferralCode.objects.get(user=owner).code
    assert page.status_code == 200 and f"/r/{code}/".encode() in page.content
