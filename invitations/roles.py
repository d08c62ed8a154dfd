"""Which roles a member may hand out: never more than they hold themselves, never ownership."""

from __future__ import annotations

from tenants.access import ROLE_PERMISSIONS, membership_permissions
from tenants.models import Membership, Role


def grantable_roles(membership: Membership | None) -> list[str]:
    if membership is None:
        return []
    own = membership_permissions(membership)
    return [role for role in Role.values if role != Role.OWNER and ROLE_PERMISSIONS.get(role, frozenset()) <= own]


def role_choices(membership: Membership | None) -> list[tuple[str, str]]:
    allowed = set(grantable_roles(membership))
    return [(value, str(label)) for value, label in Role.choices if value in allowed]
