"""Which language a page is in, and the switcher that changes it.

- A first visit follows the browser's `Accept-Language` (Django's LocaleMiddleware).
- The switcher (`language_switch`, a small form on every page, no script) sets the language
  cookie on the base domain, so the choice holds on the public site and every practice host, and
  stores it on the signed-in user.
- A signed-in user's stored language wins on every host and device (`UserLanguageMiddleware`,
  after authentication). A user with none stored yet gets the one they were first seen with.
- The API answers in the request's `Accept-Language` (else the language cookie, else English):
  a client says per request what it reads, whether it logs in with a token or a session.
- On a practice host, times are shown and entered in the practice's time zone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import trans_real
from django.views.decorators.http import require_POST

from tenants.models import User


@dataclass(frozen=True)
class LanguageOption:
    code: str
    name: str  # in the language itself ("Deutsch", "Русский"): whoever reads it can find theirs
    is_current: bool


def language_codes() -> frozenset[str]:
    return frozenset(code for code, _name in settings.LANGUAGES)


def language_options(current: str | None) -> list[LanguageOption]:
    active = (current or settings.LANGUAGE_CODE).split("-")[0]
    return [
        LanguageOption(code=code, name=translation.get_language_info(code)["name_local"], is_current=code == active)
        for code, _name in settings.LANGUAGES
    ]


def user_language_set(*, user: User, language: str) -> User:
    """Store the user's language (it then wins on every host and device). Unknown codes are
    refused by the caller's validation; this keeps the rule too."""
    if language not in language_codes():
        raise ValueError(f"unknown language {language!r}")
    if user.language != language:
        User.objects.filter(pk=user.pk).update(language=language)
        user.language = language
    return user


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """The switcher's form posts here on whatever host the page is on. Sets the cookie (base
    domain) and, for a signed-in user, their stored language; back to the page it came from."""
    language = request.POST.get("language", "")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=False):
        next_url = "/"
    response = HttpResponseRedirect(next_url)
    if language not in language_codes():
        return response
    if request.user.is_authenticated:
        user_language_set(user=request.user, language=language)  # type: ignore[arg-type]
    translation.activate(language)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


def accept_language(header: str) -> str | None:
    """The first language of an `Accept-Language` header we have, or None."""
    for code, _quality in trans_real.parse_accept_lang_header(header):
        if code == "*":
            continue
        try:
            return trans_real.get_supported_language_variant(code)
        except LookupError:
            continue
    return None


class UserLanguageMiddleware:
    """After authentication. On pages, a signed-in user's stored language wins over the cookie
    and the browser; a user without one stored gets the language this request is in (the one
    they signed up or first logged in with). On the API, the request's `Accept-Language` wins
    (over the cookie too): a client says per request what it reads."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            language = accept_language(request.headers.get("Accept-Language", ""))
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            if user.language in language_codes():
                translation.activate(user.language)
                request.LANGUAGE_CODE = user.language  # type: ignore[attr-defined]
            else:
                current = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
                if current in language_codes():
                    user_language_set(user=user, language=current)
        return self.get_response(request)


class PracticeTimeZoneMiddleware:
    """On a practice host every time on the pages and in the forms is in the practice's zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        zone = getattr(tenant, "time_zone", "") if tenant is not None else ""
        if not zone or tenant.schema_name == settings.PUBLIC_SCHEMA_NAME:  # type: ignore[union-attr]
            return self.get_response(request)
        try:
            timezone.activate(zone)
        except (ValueError, KeyError):  # a zone this machine no longer knows: fall back to UTC
            return self.get_response(request)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
