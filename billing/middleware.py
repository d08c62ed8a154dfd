"""The Stripe webhook's short way through the middleware stack.

Stripe posts to one address on the base domain, without cookies, sessions or a login, and waits
for the answer; under a burst it is the busiest address of the app. Most of the stack does
nothing for it: tenant routing (it is always the public schema), WhiteNoise, sessions, locale
negotiation, CSRF (the view is exempt), authentication, messages, the practice access check,
Axes. Walking through them cost about a third of the request (issue 14, docs/benchmarks.md),
so this middleware, early in MIDDLEWARE, answers the webhook itself: the same view the URL
names (`billing.apis.StripeWebhookApi`, so one implementation, one error shape, one schema
entry, the same `billing.apis.stripe_webhook_answer` behind it), with the answer headers every
response gets (the Content-Security-Policy, security headers, no-store, frame denial). It sits
before django-csp's middleware, which rebuilds the policy string for every answer; ours has no
nonce, so it is built once, and so is the no-store value. Everything else passes through
untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from csp.constants import HEADER as CSP_HEADER
from csp.utils import build_policy
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import reverse
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.http import http_date
from django_tenants.utils import remove_www


def _webhook_view(request: HttpRequest) -> HttpResponse:
    from billing.apis import stripe_webhook_answer  # noqa: PLC0415 - DRF loads settings-dependent parts

    return stripe_webhook_answer(request)


_Handler = Callable[[HttpRequest], HttpResponse]


def _never_cache_value() -> str:
    """The Cache-Control value NoStoreMiddleware gives every dynamic answer, worked out once."""
    response = HttpResponse()
    add_never_cache_headers(response)
    return response["Cache-Control"]


class StripeWebhookMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._path: str | None = None
        # What every answer carries, applied around the view as the full stack would.
        self._answer = cast(_Handler, SecurityMiddleware(cast(_Handler, XFrameOptionsMiddleware(_webhook_view))))
        # Built once: neither has anything per request (the policy has no nonce). Patching the
        # headers answer by answer, as their middlewares do, was a tenth of the request.
        self._policy = build_policy()
        self._never_cache = _never_cache_value()

    def _is_webhook(self, request: HttpRequest) -> bool:
        if request.method != "POST":
            return False
        if self._path is None:
            self._path = reverse("stripe-webhook", urlconf=settings.PUBLIC_SCHEMA_URLCONF)
        if request.path_info != self._path:
            return False
        try:
            hostname = remove_www(request.get_host().split(":")[0]).lower()
        except DisallowedHost:
            return False  # the full stack answers it (the unknown-host page)
        return hostname == settings.BASE_DOMAIN.lower()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self._is_webhook(request):
            return self.get_response(request)
        # The tenant middleware is skipped: the webhook lives in the public schema. A previous
        # request on this connection may have left a practice's schema set; when it did not,
        # the schema is left alone (setting it again would cost a `SET search_path` round trip).
        if connection.schema_name != settings.PUBLIC_SCHEMA_NAME:  # type: ignore[attr-defined]
            connection.set_schema_to_public()  # type: ignore[attr-defined]
        request.urlconf = settings.PUBLIC_SCHEMA_URLCONF  # type: ignore[attr-defined]
        # Stripe's messages in the site's language, not whatever this thread served last.
        with translation.override(settings.LANGUAGE_CODE):
            response = self._answer(request)
        if self._policy and CSP_HEADER not in response:
            response[CSP_HEADER] = self._policy
        response["Cache-Control"] = self._never_cache  # as NoStoreMiddleware: whatever the view set
        response["Expires"] = http_date()
        return response
