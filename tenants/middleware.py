"""Request-side tenancy: which practice a host names, and whether this user may enter it."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import remove_www

from tenants import access
from tenants.models import Practice
from tenants.routing import practice_for_host, tenant_host_cache
from tenants.urls_helpers import public_url


def host_not_found(request: HttpRequest) -> HttpResponse:
    response = TemplateResponse(request, "tenants/host_not_found.html", {"home_url": public_url("/")}, status=404)
    return response.render()


def _static_on_unknown_host(request: HttpRequest) -> None:
    """The "no practice here" page links its stylesheet on its own host: let the static file
    through to WhiteNoise (next in the chain) in the public schema, with the public URLs should
    the file not exist. Nothing else of the site answers on an unknown host."""
    request.urlconf = settings.PUBLIC_SCHEMA_URLCONF  # type: ignore[attr-defined]


class CachedTenantMiddleware(TenantMainMiddleware):
    """django-tenants' routing with an in-process host cache and a clear 404 for unknown hosts."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        is_static = request.path.startswith(settings.STATIC_URL)
        try:
            hostname = remove_www(request.get_host().split(":")[0]).lower()
        except DisallowedHost:
            if is_static:
                _static_on_unknown_host(request)
                return None
            return host_not_found(request)

        tenant = tenant_host_cache.get(hostname)
        if tenant is None:
            since = tenant_host_cache.epoch  # before the read: a change meanwhile is not cached
            tenant = practice_for_host(hostname)
            if tenant is None:
                if is_static:
                    _static_on_unknown_host(request)
                    return None
                return host_not_found(request)
            tenant_host_cache.set(hostname, tenant, since=since)

        tenant.domain_url = hostname
        request.tenant = tenant  # type: ignore[attr-defined]
        connection.set_tenant(tenant)  # type: ignore[attr-defined]
        self.setup_url_routing(request)
        return None


EXEMPT_PREFIXES = ("/static/", "/healthz", "/logout/", "/language/")  # these need no membership


class PracticeAccessMiddleware:
    """Deny by default on practice hosts: pages need a login and an active membership, checked
    fresh on every request so a revoked access stops on the very next one. API paths are
    checked by DRF's default permission class (it knows token logins); see tenants.access."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        practice: Practice | None = getattr(request, "tenant", None)
        request.membership = None  # type: ignore[attr-defined]
        if (
            practice is None
            or practice.schema_name == settings.PUBLIC_SCHEMA_NAME
            or request.path.startswith(EXEMPT_PREFIXES)
            or request.path.startswith("/api/")
        ):
            return self.get_response(request)

        if not request.user.is_authenticated:
            next_url = request.build_absolute_uri()
            return HttpResponseRedirect(public_url("/login/") + "?" + urlencode({"next": next_url}))

        membership = access.membership_get_active(user=request.user, practice=practice)
        if membership is None:
            return TemplateResponse(
                request,
                "tenants/no_access.html",
                {"practice_name": practice.name, "switcher_url": public_url("/practices/")},
                status=403,
            ).render()
        access.membership_touch(membership)
        request.membership = membership  # type: ignore[attr-defined]
        return self.get_response(request)
