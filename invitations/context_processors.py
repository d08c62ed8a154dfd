from typing import Any

from django.http import HttpRequest

from tenants.access import Permission, membership_has_permission


def growth_nav(request: HttpRequest) -> dict[str, Any]:
    """Whether the practice nav offers "Invite" (read from the request's membership, no query).
    `can_manage_team` comes from dentaltap.context_processors.site."""
    membership = getattr(request, "membership", None)
    return {
        "can_invite": membership_has_permission(membership, Permission.INVITE_COLLEAGUES),
    }
