"""The first-party attribution cookie: which referral link a visitor opened first (and when).

Signed, so a visitor cannot credit someone by editing it; first touch wins (an existing valid
cookie is never replaced); it counts for settings.REFERRAL_COOKIE_DAYS from the first visit."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

SALT = "dentaltap.referral-attribution"


def _max_age() -> int:
    return settings.REFERRAL_COOKIE_DAYS * 24 * 3600


def attribution_code(request: HttpRequest) -> str | None:
    value = request.get_signed_cookie(settings.REFERRAL_COOKIE_NAME, default=None, salt=SALT, max_age=_max_age())
    return value or None


def attribution_set(request: HttpRequest, response: HttpResponse, code: str) -> None:
    if attribution_code(request) is not None:
        return  # first touch wins
    response.set_signed_cookie(
        settings.REFERRAL_COOKIE_NAME,
        code,
        salt=SALT,
        max_age=_max_age(),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
