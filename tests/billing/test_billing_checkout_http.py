"""Upgrading over HTTP end to end: the practice's checkout button, the Stripe stand-in's checkout
page and its Pay button, the signed webhooks it sends to the running app (a live server), a real
worker processing them, and the plan, payment, card and reward that result. This is the path the
README's demo walks; nothing in it is called directly."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from billing.models import Payment, PaymentCard, PracticeAccount, StripeEvent
from billing.standin import card_details
from referrals.models import Eligibility, Referral
from rewards.models import Reward, RewardStatus
from tenants.models import Practice, User
from tests.billing_support import wait_for
from tests.stripe_helpers import SECRET, Standin

Pair = tuple[User, Practice]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def pay_through_checkout(owner: User, practice: Practice, client_for: Callable[..., Client], card: str = "") -> str:
    """Click Upgrade, open the stand-in's checkout page, press Pay. Returns the card paid with."""
    response = client_for(owner, practice).post("/billing/checkout/pro/")
    assert response.status_code == 302
    checkout_url = response["Location"]
    with urllib.request.urlopen(checkout_url) as page:  # noqa: S310 - the loopback stand-in
        html = page.read().decode()
    match = re.search(r'name="card" value="([^"]+)"', html)
    assert match and 'action="/checkout/' in html
    card = card or match.group(1)
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(  # noqa: S310
        f"{checkout_url}/pay", data=urllib.parse.urlencode({"card": card}).encode(), method="POST"
    )
    try:
        opener.open(request)
    except urllib.error.HTTPError as redirect:  # the 303 back to the practice's billing page
        assert redirect.code == 303 and "/billing/?upgraded=1" in redirect.headers["Location"]
    else:
        pytest.fail("the stand-in did not redirect back after paying")
    return re.sub(r"\D", "", card)


@pytest.fixture
def webhooks_to_live_server(live_server: Any, stripe_standin: Standin) -> Standin:
    with stripe_standin.state.lock:
        stripe_standin.state.webhook_url = f"{live_server.url}/stripe/webhook/"
        stripe_standin.state.webhook_secret = SECRET
        stripe_standin.state.webhook_host = "dentaltap.localhost"
    return stripe_standin


@pytest.mark.django_db(transaction=True)
def test_checkout_on_the_stand_in_sends_signed_webhooks_that_change_the_plan(
    make_practice: Callable[..., Pair],
    client_for: Callable[..., Client],
    webhooks_to_live_server: Standin,
    celery_worker: object,
) -> None:
    referrer, referrer_practice = make_practice("smile")
    newcomer, practice = make_practice("northside")
    Referral.objects.create(
        referrer=referrer, referred_user=newcomer, referred_practice=practice, source="link", eligibility="eligible"
    )

    card = pay_through_checkout(newcomer, practice, client_for)

    def processed() -> bool:
        return StripeEvent.objects.filter(status="processed").count() == 5

    assert wait_for(processed, timeout=60), list(StripeEvent.objects.values_list("type", "status", "note"))
    assert sorted(StripeEvent.objects.values_list("type", flat=True)) == [
        "charge.succeeded",
        "checkout.session.completed",
        "customer.subscription.created",
        "invoice.paid",
        "invoice_payment.paid",
    ]
    account = PracticeAccount.objects.get(practice=practice)
    assert (account.plan.code, account.subscription_status) == ("pro", "active")
    payment = Payment.objects.get()
    assert (payment.practice, payment.amount_cents) == (practice, 4900)
    assert payment.stripe_charge_id.startswith("ch_")  # linked by invoice_payment.paid
    assert list(PaymentCard.objects.values_list("practice", "fingerprint", "last4")) == [
        (practice.pk, card_details(card)["fingerprint"], card[-4:])
    ]
    reward = Reward.objects.get()
    assert (reward.status, reward.beneficiary_practice) == (RewardStatus.PENDING, referrer_practice)
    # Checkout needs a subscription-free practice: the second click is refused with a message.
    again = client_for(newcomer, practice).post("/billing/checkout/pro/", follow=True)
    assert "already has a subscription" in again.content.decode()

    # The referrer's own practice then upgrades, with the very card the newcomer used.
    pay_through_checkout(referrer, referrer_practice, client_for, card=card)
    assert wait_for(lambda: Reward.objects.get().status == RewardStatus.ON_HOLD, timeout=60)
    assert PracticeAccount.objects.get(practice=referrer_practice).plan.code == "pro"
    referral = Referral.objects.get()
    assert (referral.eligibility, referral.risk_level) == (Eligibility.REVIEW, "high")
    assert Reward.objects.get().reason == "Held for review: Paid with the referrer's card"
