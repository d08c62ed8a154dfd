"""The referral risk level (referrals/risk.py, docs/staff.md): signals combined into a score, a
reward held for review only when the level is high. A shared network alone never holds one
(colleagues in one clinic share it); paying with the referrer's card always does."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from billing import cards, services
from billing.models import LedgerEntry, PaymentCard, PracticeAccount
from referrals import services as referral_services
from referrals.models import Eligibility, EligibilityReason, Referral, ReferralSource, ReferrerAddress, RiskLevel
from rewards import crediting
from rewards.models import Reward, RewardStatus
from tenants.models import Practice, User
from tests.billing_support import post_event, process_all
from tests.factories import UserFactory
from tests.growth_support import invite, signup_data, token_for
from tests.stripe_helpers import Standin, event, invoice_paid, stripe_object

pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]
ClientFor = Callable[..., Client]
CLINIC_IP = "203.0.113.5"


def signal_codes(referral: Referral) -> list[str]:
    return sorted(signal["code"] for signal in referral.risk_signals)


def link_signup(referrer: User, email: str, ip: str | None) -> Referral:
    return referral_services.referral_record(
        referrer=referrer, referred_user=UserFactory(email=email), referred_practice=None,
        source=ReferralSource.LINK, signup_ip=ip,
    )  # fmt: skip


# --------------------------------------------------------------------------- signals at signup


def test_a_link_signup_from_the_referrers_network_is_low_risk_and_eligible(public_tenant: Practice) -> None:
    referrer = UserFactory()
    ReferrerAddress.objects.create(user=referrer, ip_address=CLINIC_IP)
    referral = link_signup(referrer, "colleague@example.com", CLINIC_IP)
    assert (referral.eligibility, referral.eligibility_reason) == (Eligibility.ELIGIBLE, EligibilityReason.NONE)
    assert (referral.risk_level, referral.risk_score, signal_codes(referral)) == (
        RiskLevel.LOW,
        25,
        ["shared_network"],
    )
    assert CLINIC_IP in referral.risk_signals[0]["detail"]


def test_several_colleagues_from_one_clinic_network_stay_eligible_at_medium(public_tenant: Practice) -> None:
    referrer = UserFactory()
    ReferrerAddress.objects.create(user=referrer, ip_address=CLINIC_IP)
    first = link_signup(referrer, "first@example.com", CLINIC_IP)
    second = link_signup(referrer, "second@example.com", CLINIC_IP)
    third = link_signup(referrer, "third@example.com", CLINIC_IP)
    assert [r.eligibility for r in (first, second, third)] == [Eligibility.ELIGIBLE] * 3
    assert [(r.risk_level, r.risk_score) for r in (first, second, third)] == [
        (RiskLevel.LOW, 25),
        (RiskLevel.MEDIUM, 40),
        (RiskLevel.MEDIUM, 40),
    ]
    assert signal_codes(third) == ["network_of_other_signups", "shared_network"]
    assert "2 other signup(s)" in next(s["detail"] for s in third.risk_signals if s["code"] != "shared_network")


def test_a_throw_away_mailbox_is_high_risk_and_held(public_tenant: Practice) -> None:
    referral = link_signup(UserFactory(), "nina@mailinator.com", "192.0.2.1")
    assert (referral.eligibility, referral.eligibility_reason, referral.risk_level, referral.risk_score) == (
        Eligibility.REVIEW,
        EligibilityReason.DISPOSABLE_EMAIL,
        RiskLevel.HIGH,
        60,
    )
    assert "High (60)" in referral.eligibility_note and "throw-away" in referral.eligibility_note


def test_signals_add_up_and_the_strongest_names_the_reason(public_tenant: Practice) -> None:
    referrer = UserFactory()
    ReferrerAddress.objects.create(user=referrer, ip_address=CLINIC_IP)
    referral = link_signup(referrer, "nina@mailinator.com", CLINIC_IP)
    assert (referral.risk_level, referral.risk_score) == (RiskLevel.HIGH, 85)
    assert referral.eligibility_reason == EligibilityReason.DISPOSABLE_EMAIL
    assert signal_codes(referral) == ["disposable_email", "shared_network"]


def test_no_signal_is_low_risk_with_nothing_recorded(public_tenant: Practice) -> None:
    referral = link_signup(UserFactory(), "someone@example.com", None)
    assert (referral.eligibility, referral.risk_level, referral.risk_score, referral.risk_signals) == (
        Eligibility.ELIGIBLE,
        RiskLevel.LOW,
        0,
        [],
    )


def test_hard_rules_still_win_and_keep_the_signals_for_staff(public_tenant: Practice) -> None:
    referrer = UserFactory(email="anna@outlook.com")
    referral = link_signup(referrer, "anna+2@mailinator.com", None)
    referral_two = link_signup(referrer, "anna+3@outlook.com", None)
    assert referral.eligibility == Eligibility.REVIEW  # a different mailbox: only the signal applies
    assert (referral_two.eligibility, referral_two.eligibility_reason) == (
        Eligibility.INELIGIBLE,
        EligibilityReason.SELF_REFERRAL,
    )


def test_an_emailed_invitation_accepted_from_the_inviters_network_is_rewarded_without_review(
    practice_a: tuple[User, Practice], client_for: ClientFor
) -> None:
    """The README's walkthrough: a colleague invited by email signs up from the clinic's own
    network. The invitation proved their mailbox: low risk, and the reward waits only for the
    hold, not for staff."""
    owner, alpha = practice_a
    client_for(owner, REMOTE_ADDR=CLINIC_IP).get("/referrals/")  # the owner is seen at the clinic
    token = token_for(invite(alpha, owner, "nina@example.com").created[0])
    response = client_for(REMOTE_ADDR=CLINIC_IP).post(f"/invitations/{token}/", signup_data())
    assert response.status_code == 302
    referral = Referral.objects.get(referred_user__email="nina@example.com")
    assert (referral.source, referral.eligibility, referral.risk_level, referral.risk_score) == (
        ReferralSource.INVITATION,
        Eligibility.ELIGIBLE,
        RiskLevel.LOW,
        10,
    )
    assert signal_codes(referral) == ["shared_network"]
    assert "emailed invitation" in referral.risk_signals[0]["detail"]

    services.account_for(referral.referred_practice)  # type: ignore[arg-type]
    PracticeAccount.objects.filter(practice=referral.referred_practice).update(stripe_customer_id="cus_nina")
    post_event(invoice_paid(customer="cus_nina", invoice_id="in_nina"))
    process_all()
    reward = Reward.objects.get()
    assert (reward.status, reward.reason) == (RewardStatus.PENDING, "")


def test_staff_see_the_risk_level_score_and_signals_in_the_admin(
    public_tenant: Practice, client_for: ClientFor
) -> None:
    referrer = UserFactory()
    ReferrerAddress.objects.create(user=referrer, ip_address=CLINIC_IP)
    referral = link_signup(referrer, "nina@mailinator.com", CLINIC_IP)
    staff = User.objects.create_superuser("staff@dentaltap.example", "x-Strong-pass-99", full_name="Staff")
    listing = client_for(staff).get("/admin/referrals/referral/?risk_level__exact=high").content.decode()
    assert "nina@mailinator.com" in listing and "High" in listing
    page = client_for(staff).get(f"/admin/referrals/referral/{referral.pk}/change/").content.decode()
    assert "85" in page and "throw-away" in page and CLINIC_IP in page


# --------------------------------------------------------------------------- the same card


def card_charge(customer: str, fingerprint: str, *, charge_id: str, last4: str = "4242") -> dict[str, Any]:
    charge = stripe_object("charge", id=charge_id, customer=customer, amount=4900, paid=True, status="succeeded")
    charge["payment_method_details"]["card"].update(fingerprint=fingerprint, last4=last4, brand="visa")
    return event("charge.succeeded", charge)


@pytest.fixture
def both_known(referred: dict[str, Any]) -> dict[str, Any]:
    """The referrer's practice is a Stripe customer too (it pays for its own plan)."""
    services.account_for(referred["referrer_practice"])
    PracticeAccount.objects.filter(practice=referred["referrer_practice"]).update(stripe_customer_id="cus_referrer")
    return referred


def referrer_customer_at_standin(referred: dict[str, Any]) -> str:
    """The referrer's practice as a customer of the running stand-in (credits go there)."""
    PracticeAccount.objects.filter(practice=referred["referrer_practice"]).update(stripe_customer_id=None)
    return services.stripe_customer_ensure(practice=referred["referrer_practice"])


def test_the_referrers_card_reported_before_the_invoice_holds_the_reward(both_known: dict[str, Any]) -> None:
    post_event(card_charge("cus_referrer", "FpShared0001", charge_id="ch_referrer"))
    post_event(card_charge("cus_newcomer", "FpShared0001", charge_id="ch_first"))
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first", charge="ch_first"))
    process_all()
    reward = Reward.objects.get()
    assert (reward.status, reward.reason) == (RewardStatus.ON_HOLD, "Held for review: Paid with the referrer's card")
    referral = Referral.objects.get()
    assert (referral.eligibility, referral.eligibility_reason, referral.risk_level) == (
        Eligibility.REVIEW,
        EligibilityReason.SAME_CARD,
        RiskLevel.HIGH,
    )
    assert signal_codes(referral) == ["same_card"] and "visa …4242" in referral.risk_signals[0]["detail"]
    assert PaymentCard.objects.count() == 2


def test_the_same_card_reported_after_the_invoice_holds_a_waiting_reward(both_known: dict[str, Any]) -> None:
    post_event(card_charge("cus_referrer", "FpShared0002", charge_id="ch_referrer"))
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first", charge="ch_first"))
    process_all()
    reward = Reward.objects.get()
    assert reward.status == RewardStatus.PENDING
    post_event(card_charge("cus_newcomer", "FpShared0002", charge_id="ch_first"))
    process_all()
    reward.refresh_from_db()
    assert reward.status == RewardStatus.ON_HOLD
    assert list(reward.actions.values_list("from_status", "to_status")) == [("", "pending"), ("pending", "on_hold")]


def test_the_referrer_paying_later_with_the_referred_practices_card_holds_it_too(both_known: dict[str, Any]) -> None:
    post_event(card_charge("cus_newcomer", "FpShared0003", charge_id="ch_first"))
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first", charge="ch_first"))
    process_all()
    assert Reward.objects.get().status == RewardStatus.PENDING
    post_event(card_charge("cus_referrer", "FpShared0003", charge_id="ch_referrer_later"))
    process_all()
    assert Reward.objects.get().status == RewardStatus.ON_HOLD


def test_different_cards_change_nothing(both_known: dict[str, Any]) -> None:
    post_event(card_charge("cus_referrer", "FpReferrer01", charge_id="ch_referrer"))
    post_event(card_charge("cus_newcomer", "FpNewcomer01", charge_id="ch_first"))
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first", charge="ch_first"))
    process_all()
    assert Reward.objects.get().status == RewardStatus.PENDING
    referral = Referral.objects.get()
    assert (referral.eligibility, referral.risk_level, referral.risk_signals) == (Eligibility.ELIGIBLE, "low", [])


def test_a_card_the_referrer_never_paid_with_is_not_the_referrers(
    both_known: dict[str, Any], make_practice: Callable[..., tuple[User, Practice]]
) -> None:
    """A third practice paying with the newcomer's card says nothing about this referral."""
    _stranger, stranger_practice = make_practice("stranger")
    services.account_for(stranger_practice)
    PracticeAccount.objects.filter(practice=stranger_practice).update(stripe_customer_id="cus_stranger")
    post_event(card_charge("cus_stranger", "FpShared0004", charge_id="ch_stranger"))
    post_event(card_charge("cus_newcomer", "FpShared0004", charge_id="ch_first"))
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first", charge="ch_first"))
    process_all()
    assert Reward.objects.get().status == RewardStatus.PENDING


def test_staff_approval_after_a_same_card_hold_sticks(
    both_known: dict[str, Any], no_hold: Any, stripe_standin: Standin
) -> None:
    referrer_customer = referrer_customer_at_standin(both_known)
    post_event(card_charge(referrer_customer, "FpShared0005", charge_id="ch_referrer"))
    post_event(card_charge("cus_newcomer", "FpShared0005", charge_id="ch_first"))
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first", charge="ch_first"))
    process_all()
    reward = Reward.objects.get()
    assert reward.status == RewardStatus.ON_HOLD
    staff = User.objects.create_superuser("staff@dentaltap.example", "x-Strong-pass-99", full_name="Staff")
    # A group practice paying for its second location with its own card, say: staff decide.
    referral_services.referral_review_decide(referral_id=reward.referral_id, decision="approve", actor=staff)
    assert crediting.reward_credit(reward_pk=reward.pk) == RewardStatus.CREDITED
    assert LedgerEntry.objects.count() == 1


def test_the_credit_looks_once_more_before_calling_stripe(both_known: dict[str, Any], stripe_standin: Standin) -> None:
    """Cards recorded without the rule having run on this referral (the referrer's card reached us
    on an invoice of its own): the credit's last look holds the reward and Stripe is not called."""
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first", charge="ch_first"))
    process_all()
    reward = Reward.objects.get()
    seen = [cards.SeenCard("FpShared0006", "visa", "4242", "ch_x")]
    cards.cards_record(practice=both_known["referrer_practice"], cards=seen)
    cards.cards_record(practice=both_known["practice"], cards=seen)
    Reward.objects.filter(pk=reward.pk).update(hold_until=timezone.now() - datetime.timedelta(seconds=1))
    assert crediting.reward_credit(reward_pk=reward.pk) == RewardStatus.ON_HOLD
    assert stripe_standin.requests("balance_transactions") == [] and not LedgerEntry.objects.exists()


def test_a_same_card_seen_after_the_credit_is_logged_for_staff(
    both_known: dict[str, Any], no_hold: Any, stripe_standin: Standin
) -> None:
    post_event(invoice_paid(customer="cus_newcomer", invoice_id="in_first", charge="ch_first"))
    process_all()
    reward = Reward.objects.get()
    referrer_customer = referrer_customer_at_standin(both_known)
    assert crediting.reward_credit(reward_pk=reward.pk) == RewardStatus.CREDITED
    post_event(card_charge(referrer_customer, "FpShared0007", charge_id="ch_referrer"))
    post_event(card_charge("cus_newcomer", "FpShared0007", charge_id="ch_first"))
    process_all()
    reward.refresh_from_db()
    assert reward.status == RewardStatus.CREDITED  # money already moved: staff decide
    note = reward.actions.order_by("pk").last().note  # type: ignore[union-attr]
    assert "Paid with the referrer's card" in note and "for staff to decide" in note
    assert Referral.objects.get().eligibility == Eligibility.REVIEW  # back in the review queue


@pytest.mark.parametrize("shape", ["payment_intent_expanded", "payment_intent_legacy_charges", "payment_method"])
def test_cards_are_read_from_the_shapes_stripe_sends(both_known: dict[str, Any], shape: str) -> None:
    charge = stripe_object("charge", id="ch_first", customer="cus_newcomer")
    charge["payment_method_details"]["card"]["fingerprint"] = "FpShapes0001"
    if shape == "payment_intent_expanded":
        obj = stripe_object("payment_intent", id="pi_first", customer="cus_newcomer", latest_charge=charge)
        event_type = "payment_intent.succeeded"
    elif shape == "payment_intent_legacy_charges":
        obj = stripe_object("payment_intent", id="pi_first", customer="cus_newcomer")
        obj["charges"] = {"object": "list", "data": [charge]}
        event_type = "payment_intent.succeeded"
    else:
        obj = {
            "id": "pm_first", "object": "payment_method", "type": "card", "customer": "cus_newcomer",
            "card": {"brand": "visa", "last4": "4242", "fingerprint": "FpShapes0001"},
        }  # fmt: skip
        event_type = "payment_method.attached"
    post_event(event(event_type, obj))
    process_all()
    assert list(PaymentCard.objects.values_list("practice", "fingerprint")) == [
        (both_known["practice"].pk, "FpShapes0001")
    ]
