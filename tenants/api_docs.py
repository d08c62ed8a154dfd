"""The OpenAPI schema and its Swagger UI page. On a practice host they are for the practice's
members (tenants.access.SchemaAccess); a refusal says so and how to get in, like the pages do.

Swagger UI comes from the sidecar's static files and its init script from a URL of its own
(the split view): nothing inline, so the Content-Security-Policy needs no 'unsafe-inline'."""

from __future__ import annotations

from typing import Any, NoReturn
from urllib.parse import urlencode

from django.http import HttpResponseBase
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import exceptions
from rest_framework.request import Request

from tenants.urls_helpers import public_url


def _refusal(request: Request) -> tuple[str, bool]:
    """(the explanation, whether logging in may help)."""
    practice = getattr(request, "tenant", None)
    name = getattr(practice, "name", "")
    if not request.user or not request.user.is_authenticated:
        return (
            _(
                "The API of %(practice)s is documented for its members only. Log in with a member's "
                "account (or send a member's API token) to see it."
            )
            % {"practice": name},
            True,
        )
    return (
        _(
            "The API of %(practice)s is documented for its members only, and your account is not a "
            "member of it (or your access has ended). Ask the practice owner to invite you."
        )
        % {"practice": name},
        False,
    )


class _ExplainedRefusal:
    def permission_denied(self, request: Request, message: str | None = None, code: str | None = None) -> NoReturn:
        explanation, may_log_in = _refusal(request)
        if may_log_in and request.authenticators and not request.successful_authenticator:
            raise exceptions.NotAuthenticated(explanation)
        raise exceptions.PermissionDenied(explanation)


class SchemaView(_ExplainedRefusal, SpectacularAPIView):
    pass


class DocsView(_ExplainedRefusal, SpectacularSwaggerSplitView):
    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.PermissionDenied):
            explanation, may_log_in = _refusal(self.request)
            login_url = public_url("/login/") + "?" + urlencode({"next": self.request.build_absolute_uri()})
            response: HttpResponseBase = TemplateResponse(
                self.request,
                "tenants/api_docs_no_access.html",
                {
                    "explanation": explanation,
                    "login_url": login_url if may_log_in else None,
                    "switcher_url": public_url("/practices/"),
                },
                status=401 if isinstance(exc, exceptions.NotAuthenticated) else 403,
            )
            if isinstance(exc, exceptions.NotAuthenticated):
                response["WWW-Authenticate"] = 'Token realm="api"'
            return response
        return super().handle_exception(exc)
