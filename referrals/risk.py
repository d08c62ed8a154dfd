"""Fraud signals of a referral, combined into a risk level. Only a high level holds a reward for
staff review; low and medium are recorded on the referral for staff to see.

Why these points (docs/staff.md has the same table for staff):
- colleagues in one clinic share its network, so a shared address is the normal case for a
  genuine referral and weighs little on its own — less still for an emailed invitation, which
  proves the newcomer reads their own mailbox. Network signals together stay below high;
- a throw-away mailbox is rare among dentists and is how farmed accounts are made: high alone;
- the referred practice paying with the referrer's own card (Stripe's card fingerprint) is the
  strongest self-referral sign there is: high alone, whatever else is true."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from referrals import mailboxes
from referrals.models import EligibilityReason, Referral, ReferralSource, ReferrerAddress, RiskLevel
from tenants.models import User

HIGH_FROM = 60
MEDIUM_FROM = 30


class SignalCode:
    SAME_CARD = "same_card"
    DISPOSABLE_EMAIL = "disposable_email"
    SHARED_NETWORK = "shared_network"
    NETWORK_OF_OTHER_SIGNUPS = "network_of_other_signups"


POINTS = {
    SignalCode.SAME_CARD: 100,
    SignalCode.DISPOSABLE_EMAIL: 60,
    SignalCode.NETWORK_OF_OTHER_SIGNUPS: 15,
}
SHARED_NETWORK_POINTS: dict[str, int] = {ReferralSource.LINK: 25, ReferralSource.INVITATION: 10}

# What a held referral's reason is, by its strongest signal.
REASON_FOR_SIGNAL = {
    SignalCode.SAME_CARD: EligibilityReason.SAME_CARD,
    SignalCode.DISPOSABLE_EMAIL: EligibilityReason.DISPOSABLE_EMAIL,
    SignalCode.SHARED_NETWORK: EligibilityReason.SHARED_IP,
    SignalCode.NETWORK_OF_OTHER_SIGNUPS: EligibilityReason.SHARED_IP,
}


@dataclass(frozen=True)
class Signal:
    code: str
    points: int
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "points": self.points, "detail": self.detail}


@dataclass(frozen=True)
class Risk:
    score: int
    level: str
    signals: list[dict[str, Any]]

    @property
    def strongest_reason(self) -> str:
        if not self.signals:
            return EligibilityReason.NONE
        top = max(self.signals, key=lambda signal: signal["points"])
        return REASON_FOR_SIGNAL.get(top["code"], EligibilityReason.NONE)


def level_for(score: int) -> str:
    if score >= HIGH_FROM:
        return RiskLevel.HIGH
    if score >= MEDIUM_FROM:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def combine(signals: list[dict[str, Any]]) -> Risk:
    """One signal per code counts (a repeat report of the same card adds nothing)."""
    by_code: dict[str, dict[str, Any]] = {}
    for signal in signals:
        by_code.setdefault(signal["code"], signal)
    kept = list(by_code.values())
    score = sum(int(signal["points"]) for signal in kept)
    return Risk(score=score, level=level_for(score), signals=kept)


def signup_signals(*, referrer: User, email: str, signup_ip: str | None, source: str) -> list[Signal]:
    """What is known when the newcomer signs up: their mailbox and where they signed up from."""
    signals = []
    if mailboxes.is_disposable(email):
        signals.append(
            Signal(
                SignalCode.DISPOSABLE_EMAIL,
                POINTS[SignalCode.DISPOSABLE_EMAIL],
                _("The email uses a throw-away domain."),
            )
        )
    if signup_ip:
        if ReferrerAddress.objects.filter(user=referrer, ip_address=signup_ip).exists():
            how = _("an emailed invitation") if source == ReferralSource.INVITATION else _("a referral link")
            signals.append(
                Signal(
                    SignalCode.SHARED_NETWORK,
                    SHARED_NETWORK_POINTS.get(source, SHARED_NETWORK_POINTS[ReferralSource.LINK]),
                    _("Signed up through %(how)s from %(ip)s, an address the referrer used.")
                    % {"how": how, "ip": signup_ip},
                )
            )
        others = Referral.objects.filter(referrer=referrer, signup_ip=signup_ip).count()
        if others:
            signals.append(
                Signal(
                    SignalCode.NETWORK_OF_OTHER_SIGNUPS,
                    POINTS[SignalCode.NETWORK_OF_OTHER_SIGNUPS],
                    _("%(count)d other signup(s) of this referrer came from %(ip)s.")
                    % {"count": others, "ip": signup_ip},
                )
            )
    return signals


def same_card_signal(*, card: str) -> Signal:
    """`card` names the card for staff, e.g. "visa …4242"."""
    return Signal(
        SignalCode.SAME_CARD,
        POINTS[SignalCode.SAME_CARD],
        _("The referred practice paid with the same card as the referrer's practice (%(card)s).") % {"card": card},
    )
