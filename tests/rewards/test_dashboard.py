"""The "Refer colleagues" page and API (issue 6): figures against the hand-counted world of
tests/growth_support.py (referral_world), privacy of the list, the owner-only scope of every
query, the link/QR/messages, and message templates in the admin."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import Payment
from referrals import services
from referrals.models import (
    Eligibility,
    Referral,
    ReferralCode,
    ReferralMessageTemplate,
    ReferralVisit,
    ReferrerAddress,
)
from tests.factories import UserFactory
from tests.growth_support import ClientFor, bare_practice

pytestmark = pytest.mark.django_db

ALICE_FUNNEL = {
    "visits": 7,
    "signups": 6,
    "access_requests": 1,  # r6 asked for access to Alice's practice
    "paid_conversions": 2,  # r1 (P1) and r4 (P4); P2 and P3 were refunded
    "not_eligible": 1,  # r5
    "under_review": 1,  # r6
    "rewards_pending": 1,  # r4
    "rewards_credited": 1,  # r1
    "rewards_cancelled": 1,  # r3
    "rewards_clawed_back": 1,  # r2
    "earned_cents": 5000,  # +5000 (r1) +5000 -5000 (r2)
    "currency": "usd",
}


def test_funnel_figures_match_the_hand_count(referral_world: dict[str, Any], client_for: ClientFor) -> None:
    alice = referral_world["alice"]
    body = client_for(alice).get("/api/referrals/dashboard/").json()
    assert body["funnel"] == ALICE_FUNNEL
    assert body["earned_display"] == "$50.00"  # what the page shows, also after a live refresh
    assert body["code"] == "alicecode" and body["link"].endswith("/r/alicecode/")

    page = client_for(alice).get("/referrals/")
    assert page.status_code == 200
    html = page.content.decode()
    for name in ("visits", "signups", "access_requests", "paid_conversions", "rewards_pending", "rewards_credited"):
        assert re.search(rf'data-figure="{name}">{ALICE_FUNNEL[name]}<', html), name
    assert re.search(r'data-figure="rewards_cancelled">1<', html)
    assert re.search(r'data-figure="rewards_clawed_back">1<', html)
    # One money format on every page ("$50.00", as on the Billing page), and counted labels.
    assert re.search(r'data-figure="earned">\$50\.00<', html) and "50 USD" not in html
    assert "reward credited<" in html and "1 rewards" not in html

    bob = client_for(referral_world["bob"]).get("/api/referrals/dashboard/").json()["funnel"]
    assert (bob["visits"], bob["signups"], bob["paid_conversions"], bob["rewards_credited"], bob["earned_cents"]) == (
        3,
        2,
        1,
        1,
        5000,
    )


def test_the_list_masks_emails_and_says_why_in_plain_words(
    referral_world: dict[str, Any], client_for: ClientFor
) -> None:
    body = client_for(referral_world["alice"]).get("/api/referrals/dashboard/referrals/").json()
    assert body["count"] == 6
    rows = {row["name"]: row for row in body["results"]}
    assert list(rows) == ["Sam Throwaway", "Rosa Vel", "Quinn Diaz", "Petra Lang", "Oleg Petrov", "Nina Kraus"]
    assert rows["Nina Kraus"]["email_masked"] == "n***@example.com"
    assert rows["Nina Kraus"]["source"] == "invitation" and rows["Oleg Petrov"]["source"] == "link"
    statuses = {name: (row["status"], row["reason"]) for name, row in rows.items()}
    assert statuses["Nina Kraus"] == ("credited", "")
    assert statuses["Quinn Diaz"] == ("pending", "")
    assert statuses["Petra Lang"] == (
        "cancelled",
        "The referred practice's payment was refunded or disputed, so no credit is due.",
    )
    assert statuses["Oleg Petrov"] == (
        "clawed_back",
        "The referred practice's payment was refunded or disputed, so the credit was reversed.",
    )
    assert statuses["Rosa Vel"][0] == "not_eligible" and "Too many signups" in statuses["Rosa Vel"][1]
    assert statuses["Sam Throwaway"][0] == "under_review" and "throw-away" in statuses["Sam Throwaway"][1]
    text = str(body)
    # The referred people's addresses, the IP and the staff notes never reach the referrer.
    assert "nina.kraus@example.com" not in text and "203.0.113.9" not in text and "24 hours" not in text

    paged = client_for(referral_world["alice"]).get("/api/referrals/dashboard/referrals/?limit=2&offset=2").json()
    assert [row["name"] for row in paged["results"]] == ["Quinn Diaz", "Petra Lang"] and paged["count"] == 6

    page = client_for(referral_world["alice"]).get("/referrals/").content.decode()
    assert "n***@example.com" in page and "nina.kraus@example.com" not in page
    assert "Our team is checking this signup" in page


def test_each_user_sees_only_their_own_referrals(referral_world: dict[str, Any], client_for: ClientFor) -> None:
    """The attacker's side: Bob reads his own figures and can reach nothing of Alice's."""
    bob = client_for(referral_world["bob"])
    listing = bob.get("/api/referrals/dashboard/referrals/").json()
    assert {row["name"] for row in listing["results"]} == {"Tom Bobson", "Uma Bobson"}
    page = bob.get("/referrals/").content.decode()
    assert "Tom Bobson" in page and "Nina Kraus" not in page and "alicecode" not in page

    for referral_id in (referral_world["r1"].pk, referral_world["r6"].pk):
        foreign = bob.get(f"/api/referrals/dashboard/referrals/{referral_id}/")
        assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "not_found"
    unknown = bob.get("/api/referrals/dashboard/referrals/999999999/")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    own = bob.get(f"/api/referrals/dashboard/referrals/{referral_world['b1'].pk}/")
    assert own.status_code == 200 and own.json()["status"] == "credited"

    # Logged out: the page asks for a login, the API for credentials.
    assert client_for().get("/referrals/").status_code == 302
    assert client_for().get("/api/referrals/dashboard/").status_code in (401, 403)


def test_weekly_chart_counts_signups_and_first_payments(public_tenant: Any, client_for: ClientFor) -> None:
    referrer = UserFactory()
    now = timezone.now()
    practices = [bare_practice(f"weekly-{n}") for n in range(3)]
    for n, (days_ago, practice) in enumerate([(0, practices[0]), (0, practices[1]), (7, practices[2]), (200, None)]):
        row = Referral.objects.create(
            referrer=referrer,
            referred_user=UserFactory(),
            referred_practice=practice,
            source="link",
            eligibility=Eligibility.ELIGIBLE,
        )
        Referral.objects.filter(pk=row.pk).update(created_at=now - datetime.timedelta(days=days_ago, minutes=n))
    for n, (practice, days_ago, is_reversed) in enumerate(
        [(practices[0], 0, False), (practices[0], 0, False), (practices[1], 0, True), (practices[2], 7, False)]
    ):
        Payment.objects.create(
            stripe_invoice_id=f"in_weekly_{n}",
            practice=practice,
            stripe_customer_id="cus",
            amount_cents=4900,
            currency="usd",
            paid_at=now - datetime.timedelta(days=days_ago),
            is_reversed=is_reversed,
        )
    weekly = client_for(referrer).get("/api/referrals/dashboard/").json()["weekly"]
    assert len(weekly) == 12
    assert (weekly[-1]["signups"], weekly[-1]["conversions"]) == (2, 1)  # two invoices, one practice; one refunded
    assert (weekly[-2]["signups"], weekly[-2]["conversions"]) == (1, 1)
    assert sum(week["signups"] for week in weekly) == 3  # the one 200 days ago is outside the chart
    assert datetime.date.fromisoformat(weekly[-1]["week"]).weekday() == 0


def test_link_qr_code_and_ready_messages(public_tenant: Any, client_for: ClientFor) -> None:
    user = UserFactory()
    client = client_for(user)
    page = client.get("/referrals/").content.decode()
    code = ReferralCode.objects.get(user=user).code
    assert f"/r/{code}/" in page and 'data-testid="copy-link"' in page and "/referrals/qr.svg" in page
    assert 'data-testid="nav-refer"' in page and "uPlot.iife.min.js" in page

    qr = client.get("/referrals/qr.svg")
    assert qr.status_code == 200 and qr["Content-Type"] == "image/svg+xml"
    assert qr.content.startswith(b"<?xml") and b"<svg" in qr.content and b"<path" in qr.content

    messages = {row["channel"]: row for row in client.get("/api/referrals/dashboard/messages/").json()}
    assert set(messages) == {"email", "whatsapp", "telegram", "linkedin", "x", "facebook"}
    for row in messages.values():
        assert f"/r/{code}/" in row["text"] and "{link}" not in row["text"]
    assert messages["whatsapp"]["share_url"].startswith("https://wa.me/?text=")
    assert messages["telegram"]["share_url"].startswith("https://t.me/share/url?url=")
    assert messages["email"]["share_url"].startswith("mailto:?subject=")
    assert "x.com/intent/post" in messages["x"]["share_url"]
    assert "linkedin.com" in messages["linkedin"]["share_url"] and "facebook.com" in messages["facebook"]["share_url"]

    german = {row["channel"]: row for row in client.get("/api/referrals/dashboard/messages/?language=de").json()}
    assert "Praxis" in german["whatsapp"]["text"]
    ReferralMessageTemplate.objects.filter(channel="x").delete()  # staff removed one: the built-in text stands in
    fallback = {row["channel"]: row for row in client.get("/api/referrals/dashboard/messages/").json()}
    assert f"/r/{code}/" in fallback["x"]["text"]


def test_the_email_channel_points_to_invite_pages_where_the_user_may_invite(
    referral_world: dict[str, Any], client_for: ClientFor
) -> None:
    page = client_for(referral_world["alice"]).get("/referrals/").content.decode()
    assert "alice-home.dentaltap.localhost" in page and "/invitations/" in page
    guest = UserFactory()
    from tenants.models import Membership

    Membership.objects.create(
        user=guest, practice=referral_world["alice_home"], role="guest", joined_via="referral_link"
    )
    assert 'data-testid="invite-page"' not in client_for(guest).get("/referrals/").content.decode()


def test_a_signup_from_the_referrers_address_is_recorded_as_a_signal_not_held(
    public_tenant: Any, client_for: ClientFor
) -> None:
    """Colleagues share a clinic's network: the address is a low-weight signal on the referral
    (tests/referrals/test_referral_risk.py has the combinations), not a reason for review by itself."""
    referrer = UserFactory()
    client_for(referrer, REMOTE_ADDR="198.51.100.7").get("/referrals/")  # the referrer's own network
    assert ReferrerAddress.objects.filter(user=referrer, ip_address="198.51.100.7").exists()
    same = services.referral_record(
        referrer=referrer, referred_user=UserFactory(), referred_practice=None, source="link", signup_ip="198.51.100.7"
    )
    assert (same.eligibility, same.risk_level, [s["code"] for s in same.risk_signals]) == (
        Eligibility.ELIGIBLE,
        "low",
        ["shared_network"],
    )
    elsewhere = services.referral_record(
        referrer=referrer, referred_user=UserFactory(), referred_practice=None, source="link", signup_ip="192.0.2.1"
    )
    assert elsewhere.eligibility == Eligibility.ELIGIBLE and elsewhere.signup_ip == "192.0.2.1"
    assert elsewhere.risk_signals == []
    farmed = services.referral_record(
        referrer=referrer, referred_user=UserFactory(), referred_practice=None, source="link", signup_ip="192.0.2.1"
    )
    assert [s["code"] for s in farmed.risk_signals] == ["network_of_other_signups"]  # a second signup from one address
    unknown = services.referral_record(
        referrer=referrer, referred_user=UserFactory(), referred_practice=None, source="link", signup_ip=None
    )
    assert unknown.eligibility == Eligibility.ELIGIBLE and unknown.risk_signals == []


def test_visits_on_the_landing_page_move_the_funnel(public_tenant: Any, client_for: ClientFor) -> None:
    user = UserFactory()
    api = client_for(user)
    code = api.get("/api/referrals/dashboard/").json()["code"]
    client_for().get(f"/r/{code}/")
    client_for().get(f"/r/{code}/")
    assert api.get("/api/referrals/dashboard/").json()["funnel"]["visits"] == 2 == ReferralVisit.objects.count()


# --------------------------------------------------------------------------- templates in the admin


def test_admin_refuses_a_template_without_the_link_placeholder(public_tenant: Any, client_for: ClientFor) -> None:
    staff = UserFactory(is_staff=True, is_superuser=True)
    admin = client_for(staff)
    template = ReferralMessageTemplate.objects.get(channel="whatsapp", language="en")
    url = f"/admin/referrals/referralmessagetemplate/{template.pk}/change/"
    form = {"channel": "whatsapp", "language": "en", "subject": "", "text": "Join DentalTap!", "is_active": "on"}
    refused = admin.post(url, form)
    assert refused.status_code == 200
    assert "The text must contain {link}" in refused.content.decode()
    template.refresh_from_db()
    assert "{link}" in template.text  # unchanged

    accepted = admin.post(url, {**form, "text": "Join DentalTap: {link} (free)"})
    assert accepted.status_code == 302
    template.refresh_from_db()
    assert template.text == "Join DentalTap: {link} (free)"

    added = admin.post(
        "/admin/referrals/referralmessagetemplate/add/", {**form, "language": "en", "text": "no placeholder"}
    )
    assert added.status_code == 200 and "The text must contain {link}" in added.content.decode()

    # Any other path is stopped by the database itself.
    with pytest.raises(IntegrityError), transaction.atomic():
        ReferralMessageTemplate.objects.filter(pk=template.pk).update(text="Join DentalTap!")


def test_default_templates_exist_for_every_channel_and_language(db: None) -> None:
    pairs = set(ReferralMessageTemplate.objects.values_list("channel", "language"))
    assert pairs == {
        (channel, language)
        for channel in ("email", "whatsapp", "telegram", "linkedin", "x", "facebook")
        for language in ("en", "de", "ru")
    }
