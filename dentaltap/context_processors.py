from typing import Any

from django.conf import settings
from django.http import HttpRequest

from tenants.access import Permission, membership_has_permission
from tenants.urls_helpers import public_url


def site(request: HttpRequest) -> dict[str, Any]:
    tenant = getattr(request, "tenant", None)
    membership = getattr(request, "membership", None)
    is_practice_host = tenant is not None and tenant.schema_name != settings.PUBLIC_SCHEMA_NAME
    return {
        "practice": tenant if is_practice_host else None,
        "membership": membership,
        "can_manage_team": membership_has_permission(membership, Permission.MANAGE_TEAM),
        "switcher_url": public_url("/practices/"),
        "logout_url": public_url("/logout/"),
    }
