from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import translation

from tenants.access import Permission, membership_has_permission
from tenants.languages import language_options
from tenants.models import Role
from tenants.selectors import practice_switcher_entries
from tenants.urls_helpers import public_url


def site(request: HttpRequest) -> dict[str, Any]:
    """What the page frame needs. Permissions come from the membership the access middleware
    read (no query); the practice switcher's list is one query, run only when a page shows it
    (templates call callables)."""
    tenant = getattr(request, "tenant", None)
    membership = getattr(request, "membership", None)
    is_practice_host = tenant is not None and tenant.schema_name != settings.PUBLIC_SCHEMA_NAME
    user = getattr(request, "user", None)
    return {
        "practice": tenant if is_practice_host else None,
        "membership": membership,
        "can_manage_team": membership_has_permission(membership, Permission.MANAGE_TEAM),
        "can_view_billing": membership_has_permission(membership, Permission.VIEW_BILLING),
        "switcher_entries": lambda: practice_switcher_entries(user=user) if user and user.is_authenticated else [],
        "switcher_url": public_url("/practices/"),
        # Same host on every host: a cross-origin POST carries `Origin: null` under our
        # Referrer-Policy (same-origin) and fails the CSRF check.
        "logout_url": "/logout/",
        "language_options": lambda: language_options(translation.get_language()),
        "is_owner": membership is not None and membership.role == Role.OWNER,
    }
