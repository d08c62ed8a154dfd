"""What every signup door reads from its request, read one way: the client's address and user
agent, and the referral attribution cookie (first touch wins over a code the door was given)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from dentaltap.ratelimit import client_ip
from referrals import attribution


def signup_request_arguments(request: HttpRequest, *, referral_code: str | None = None) -> dict[str, Any]:
    """The keyword arguments of accounts.services.account_signup that come from the request."""
    return {
        "signup_ip": client_ip(request),
        "user_agent": request.META.get("HTTP_USER_AGENT", ""),
        "referral_code": attribution.attribution_code(request) or referral_code or None,
    }
