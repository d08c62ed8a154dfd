"""Rate limits kept in Redis (the Django cache): fixed windows counted per user, per IP or per
any other key a caller names.

Limits come from settings.RATE_LIMITS: {scope: {kind: (limit, window_seconds)}}. A Redis outage
must not take signups down with it: counting then fails open and logs a warning.

    rate_limit_check(scope="invitation_create", keys={"user": user.pk, "ip": client_ip(request)})
    @rate_limited("signup")   # a view: 429 page, or the API error shape under /api/
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context
from redis.exceptions import RedisError
from rest_framework import status

from dentaltap.errors import ApplicationError
from dentaltap.ip import request_client_ip

logger = logging.getLogger(__name__)


class RateLimited(ApplicationError):
    code: str = "rate_limited"
    status_code: int = status.HTTP_429_TOO_MANY_REQUESTS

    def __init__(self, message: str | None = None, *, retry_after: int = 60) -> None:
        super().__init__(message or _("Too many attempts. Please wait a little and try again."))
        self.retry_after = retry_after


def client_ip(request: HttpRequest) -> str:
    """The client address as a rate-limit key (dentaltap.ip.request_client_ip; "unknown" when
    the request carries none)."""
    return request_client_ip(request) or "unknown"


def _cache_key(scope: str, kind: str, identity: object, window: int) -> str:
    digest = hashlib.sha256(str(identity).lower().encode()).hexdigest()[:24]
    return f"ratelimit:{scope}:{kind}:{digest}:{int(time.time()) // window}"


def _hit(key: str, window: int) -> int | None:
    """Count one hit; the new count, or None when Redis cannot be reached (fail open)."""
    try:
        # Keys are global, not per practice: a user or an IP is one actor across all hosts.
        with schema_context(settings.PUBLIC_SCHEMA_NAME):
            cache.add(key, 0, timeout=window + 1)
            return int(cache.incr(key))
    except (RedisError, OSError, ValueError) as error:
        logger.warning("rate limit not counted (%s): %s", key, error)
        return None


def rate_limit_check(*, scope: str, keys: Mapping[str, object]) -> None:
    """Count one attempt against every configured limit of `scope`; raise RateLimited when any
    is over. Keys with an empty identity (e.g. an anonymous user) are skipped."""
    limits: dict[str, tuple[int, int]] = settings.RATE_LIMITS.get(scope, {})
    for kind, identity in keys.items():
        if kind not in limits or identity in (None, ""):
            continue
        limit, window = limits[kind]
        count = _hit(_cache_key(scope, kind, identity, window), window)
        if count is not None and count > limit:
            logger.info("rate limited: %s by %s", scope, kind)
            raise RateLimited(retry_after=window - int(time.time()) % window)


def request_keys(request: HttpRequest, **extra: object) -> dict[str, object]:
    user = getattr(request, "user", None)
    keys: dict[str, object] = {"ip": client_ip(request)}
    if user is not None and user.is_authenticated:
        keys["user"] = user.pk
    keys.update(extra)
    return keys


def rate_limited_response(request: HttpRequest, error: RateLimited) -> HttpResponse:
    response: HttpResponse
    if request.path.startswith("/api/"):
        body = {"error": {"code": error.code, "message": error.message, "fields": {}}}
        response = JsonResponse(body, status=error.status_code)
    else:
        response = TemplateResponse(
            request, "ratelimit/too_many_requests.html", {"message": error.message}, status=error.status_code
        ).render()
    response["Retry-After"] = str(error.retry_after)
    return response


def rate_limited(scope: str, *, field: str | None = None) -> Callable[[Any], Any]:
    """View decorator: POSTs count against `scope` per IP and per user (and per the value of a
    posted form/JSON `field`, e.g. the email of a signup)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method == "POST":
                extra: dict[str, object] = {}
                if field is not None:
                    extra[field] = _posted_value(request, field)
                try:
                    rate_limit_check(scope=scope, keys=request_keys(request, **extra))
                except RateLimited as error:
                    return rate_limited_response(request, error)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _posted_value(request: HttpRequest, field: str) -> str:
    if request.content_type == "application/json":
        import json  # noqa: PLC0415

        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return ""
        value = data.get(field, "") if isinstance(data, dict) else ""
        return str(value).strip().lower()
    return str(request.POST.get(field, "")).strip().lower()
