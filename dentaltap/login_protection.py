"""Brute-force protection for password logins: django-axes, with its attempts in the database.

Two limits, because colleagues in one clinic share one IP address:
- an account from one IP is paused after a few failures (LOGIN_FAILURE_LIMIT_PER_ACCOUNT_AND_IP):
  one person's typos never lock a colleague out;
- an IP as a whole is paused only after many failures over any accounts
  (LOGIN_FAILURE_LIMIT_PER_IP): someone trying address after address.
Both last LOGIN_COOLOFF after the last counted failure. Failures while paused are not counted,
so the time the login page names is a promise. Axes' own limit setting holds a single number,
so this handler compares each group with its own limit.

Staff see attempts, failures and lockouts in the admin (Axes section); each pause is logged
(logger "dentaltap.login_protection", warning) with the account and the address.
"""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING, Any

from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import ngettext

from dentaltap.ratelimit import client_ip

if TYPE_CHECKING:
    from django.db.models import QuerySet

logger = logging.getLogger(__name__)

ACCOUNT_AND_IP = ("username", "ip_address")
IP = ("ip_address",)


def lockout_groups() -> list[tuple[tuple[str, ...], int]]:
    """(the attempt fields a limit counts by, the limit), in AXES_LOCKOUT_PARAMETERS' order."""
    return [
        (ACCOUNT_AND_IP, settings.LOGIN_FAILURE_LIMIT_PER_ACCOUNT_AND_IP),
        (IP, settings.LOGIN_FAILURE_LIMIT_PER_IP),
    ]


def login_username(request: HttpRequest | None, credentials: dict[str, Any] | None = None) -> str | None:
    """The account a login names, as stored (trimmed, lower-case): "Ann@X" and "ann@x" are one."""
    value: Any = None
    if credentials:
        value = credentials.get("username")
    if value is None and request is not None:
        value = getattr(request, "POST", {}).get("username")
    return str(value).strip().lower() if value else None


def login_client_ip(request: HttpRequest) -> str | None:
    """The same client address the rate limits use (dentaltap.ratelimit.client_ip)."""
    address = client_ip(request)
    return None if address == "unknown" else address


class LoginAttemptHandler(AxesDatabaseHandler):
    """Axes' database handler with one limit per lockout group (see the module docstring)."""

    def _group_attempts(
        self, request: HttpRequest, credentials: dict[str, Any] | None
    ) -> list[tuple[QuerySet[AccessAttempt], int]]:
        attempts = self.get_user_attempts(request, credentials)
        limits = [limit for _fields, limit in lockout_groups()]
        return list(zip(attempts, limits, strict=True))

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        # Axes compares this figure with AXES_FAILURE_LIMIT: each group's count is scaled to that
        # limit, so the figure reaches it exactly when some group reaches its own limit.
        base = settings.AXES_FAILURE_LIMIT
        scores = [
            (attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0) * base // limit
            for attempts, limit in self._group_attempts(request, credentials)
        ]
        return max(scores, default=0)

    def lockout_ends_at(self, request: HttpRequest, credentials: dict[str, Any] | None) -> datetime.datetime | None:
        """When the login this request names may be tried again, or None if it is not paused."""
        ends: list[datetime.datetime] = []
        for attempts, limit in self._group_attempts(request, credentials):
            figures = attempts.aggregate(total=Sum("failures_since_start"), last=Max("attempt_time"))
            if (figures["total"] or 0) >= limit and figures["last"] is not None:
                ends.append(figures["last"] + settings.AXES_COOLOFF_TIME)
        return max(ends) if ends else None

    def is_ip_paused(self, request: HttpRequest, credentials: dict[str, Any] | None) -> bool:
        _account, (ip_attempts, ip_limit) = self._group_attempts(request, credentials)
        return (ip_attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0) >= ip_limit

    def user_logged_in(self, sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
        super().user_logged_in(sender, request, user, **kwargs)
        # The right password from this address proves the earlier failures were typos: forget them
        # for this account and address only (never the whole address: colleagues' and others'
        # failures from it still count).
        address = getattr(request, "axes_ip_address", None)
        if address:
            AccessAttempt.objects.filter(username=user.get_username(), ip_address=address).delete()


def log_lockout(
    *, request: HttpRequest | None = None, username: str | None = None, ip_address: str | None = None, **_: Any
) -> None:
    """Receiver of Axes' user_locked_out signal: sent when a limit is reached (the failure count
    is known) and for each login refused while paused."""
    if request is not None and getattr(request, "axes_failures_since_start", None) is not None:
        logger.warning("login paused after repeated failures: account %s from %s", username or "-", ip_address or "-")
    else:
        logger.info("login refused while paused: account %s from %s", username or "-", ip_address or "-")


def _handler() -> LoginAttemptHandler:
    from axes.handlers.proxy import AxesProxyHandler  # noqa: PLC0415 - configured at start-up

    implementation = AxesProxyHandler.get_implementation()
    if not isinstance(implementation, LoginAttemptHandler):
        raise RuntimeError("AXES_HANDLER must be dentaltap.login_protection.LoginAttemptHandler")
    return implementation


def lockout_message(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str:
    """What the login page says while a login is paused: why, and when to try again."""
    handler = _handler()
    ends_at = handler.lockout_ends_at(request, credentials)
    seconds = (ends_at - timezone.now()).total_seconds() if ends_at else settings.AXES_COOLOFF_TIME.total_seconds()
    minutes = max(1, int(-(-seconds // 60)))  # rounded up: "in 1 minute" until it is over
    if handler.is_ip_paused(request, credentials):
        return ngettext(
            "Too many failed logins from your network. For your security, logins from it are paused: "
            "please try again in %(minutes)d minute.",
            "Too many failed logins from your network. For your security, logins from it are paused: "
            "please try again in %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}
    return ngettext(
        "Too many failed logins for this account. For your security, it is paused on this network: "
        "please try again in %(minutes)d minute, or reset your password.",
        "Too many failed logins for this account. For your security, it is paused on this network: "
        "please try again in %(minutes)d minutes, or reset your password.",
        minutes,
    ) % {"minutes": minutes}


def lockout_retry_after(request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
    ends_at = _handler().lockout_ends_at(request, credentials)
    remaining = (ends_at - timezone.now()).total_seconds() if ends_at else settings.AXES_COOLOFF_TIME.total_seconds()
    return max(1, int(remaining))


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE. Our login page already shows the pause as a form error (429); other
    login forms (the staff admin's) get a page that says the same."""
    if original_response is not None and getattr(original_response, "shows_login_lockout", False):
        return original_response
    response = TemplateResponse(
        request,
        "tenants/login_paused.html",
        {"message": lockout_message(request, credentials)},
        status=429,
    ).render()
    response["Retry-After"] = str(lockout_retry_after(request, credentials))
    return response
