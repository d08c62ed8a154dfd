"""What invitations needs from a layer above it, asked through a hand-off that layer registers
at start-up (never an upward import).

The invitation email carries the inviter's referral code in its link (`?ref=`), so a newcomer
is credited to their inviter even if they sign up elsewhere. Codes belong to `referrals`, which
sits above `invitations`; the email is built by invitations' own task (and its beat resend), with
no caller above on the stack that could pass the code in, so referrals registers the provider
in ReferralsConfig.ready()."""

from __future__ import annotations

from collections.abc import Callable

from tenants.models import User

ReferralCodeProvider = Callable[[User], str]

_referral_code_provider: ReferralCodeProvider | None = None


def referral_code_provider_register(provider: ReferralCodeProvider) -> None:
    """Called once at start-up by the referrals app: `provider(user)` returns the user's code."""
    global _referral_code_provider  # noqa: PLW0603 - the one registration point
    _referral_code_provider = provider


def referral_code_for(user: User) -> str:
    """The user's referral code, or "" when no referral program is installed."""
    return _referral_code_provider(user) if _referral_code_provider is not None else ""
