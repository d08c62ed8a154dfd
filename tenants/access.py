"""The access layer: "may this user do X in this practice now?"

Every page, API endpoint and task asks here. Answers are read fresh from the database on each
request (one indexed query): nothing about access is cached past a change.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from tenants.models import Membership, MembershipStatus, PermissionCode, Practice, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from rest_framework.request import Request
    from rest_framework.views import APIView

    from tenants.models import User


Permission = PermissionCode  # the public name in views and APIs

ALL_PERMISSIONS = frozenset(Permission.values)

# Role templates. A guest sees no patient data until an owner widens it.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: ALL_PERMISSIONS,
    Role.PRACTICE_ADMIN: ALL_PERMISSIONS,
    Role.DENTIST: frozenset(
        {
            Permission.VIEW_PATIENTS,
            Permission.EDIT_PATIENTS,
            Permission.VIEW_SCHEDULE,
            Permission.MANAGE_SCHEDULE,
            Permission.INVITE_COLLEAGUES,
        }
    ),
    Role.ASSISTANT: frozenset({Permission.VIEW_PATIENTS, Permission.VIEW_SCHEDULE}),
    Role.RECEPTIONIST: frozenset({Permission.VIEW_PATIENTS, Permission.VIEW_SCHEDULE, Permission.MANAGE_SCHEDULE}),
    Role.GUEST: frozenset(),
}


# Last-active times are written at most this often per member: a write per request would cost
# more than the access check itself.
LAST_ACTIVE_RESOLUTION = datetime.timedelta(minutes=5)


def active_membership_filter() -> Q:
    """Memberships that grant access now: active, and not past a temporary access's expiry."""
    return Q(status=MembershipStatus.ACTIVE) & (Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))


_ACTIVE_MEMBERSHIP_FIELDS = (
    "id", "user_id", "practice_id", "role", "status", "granted_permissions", "revoked_permissions",
    "expires_at", "last_active_at",
)  # fmt: skip
# The hottest query of the app (every practice request): written out once instead of compiled by
# the ORM each time, which cost ~15 times the query itself. It must stay equivalent to
# active_membership_filter(); tests/team/test_team.py covers both through every status and expiry.
_ACTIVE_MEMBERSHIP_SQL = (
    f"SELECT {', '.join(_ACTIVE_MEMBERSHIP_FIELDS)} FROM {Membership._meta.db_table} "  # noqa: S608 - constants only
    "WHERE user_id = %s AND practice_id = %s AND status = %s AND (expires_at IS NULL OR expires_at > %s)"
)


def membership_get_active(*, user: User | AnonymousUser, practice: Practice) -> Membership | None:
    """The user's membership in the practice if it grants access now, else None.
    One indexed query, never cached: a change applies to the very next request."""
    if not user.is_authenticated or not user.is_active:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_ACTIVE_MEMBERSHIP_SQL, [user.pk, practice.pk, MembershipStatus.ACTIVE, timezone.now()])
        row = cursor.fetchone()
    return Membership.from_db(connection.alias, _ACTIVE_MEMBERSHIP_FIELDS, row) if row else None


def membership_touch(membership: Membership) -> None:
    """Record that the member was active now (at most once per LAST_ACTIVE_RESOLUTION)."""
    now = timezone.now()
    if membership.last_active_at is None or now - membership.last_active_at > LAST_ACTIVE_RESOLUTION:
        Membership.objects.filter(pk=membership.pk).update(last_active_at=now)
        membership.last_active_at = now


def role_permissions(role: str) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role, frozenset())


def permissions_for(
    role: str, granted: list[str] | tuple[str, ...], revoked: list[str] | tuple[str, ...]
) -> frozenset[str]:
    return (role_permissions(role) | frozenset(granted)) - frozenset(revoked)


def membership_permissions(membership: Membership | None) -> frozenset[str]:
    if membership is None or membership.status != MembershipStatus.ACTIVE:
        return frozenset()
    if membership.expires_at is not None and membership.expires_at <= timezone.now():
        return frozenset()
    return permissions_for(membership.role, membership.granted_permissions, membership.revoked_permissions)


def membership_has_permission(membership: Membership | None, permission: str) -> bool:
    return permission in membership_permissions(membership)


def members_with_permission(*, practice: Practice, permission: str) -> list[Membership]:
    """Active members who may do `permission` now, by role template or single grant."""
    memberships = Membership.objects.filter(active_membership_filter(), practice=practice).select_related("user")
    return [membership for membership in memberships if permission in membership_permissions(membership)]


class SchemaAccess(BasePermission):
    """Who may read the OpenAPI schema and docs: anyone on the base domain (the public API),
    members only on a practice host (its API's shape is the practice's business)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not is_practice_host(request):
            return True
        return membership_get_active(user=request.user, practice=request.tenant) is not None  # type: ignore[attr-defined]


def current_practice(request: Any) -> Practice:
    """The practice the request's host names. Only for views on practice hosts, where the
    tenant middleware has set it and the access middleware or permission has checked it."""
    practice = getattr(request, "tenant", None)
    if not isinstance(practice, Practice) or practice.schema_name == settings.PUBLIC_SCHEMA_NAME:
        raise RuntimeError("current_practice() called outside a practice host")
    return practice


def is_practice_host(request: Any) -> bool:
    tenant = getattr(request, "tenant", None)
    return tenant is not None and tenant.schema_name != settings.PUBLIC_SCHEMA_NAME


class IsPracticeMember(BasePermission):
    """DRF's default permission: a login everywhere, and on a practice host an active
    membership there. Views name the permissions they need per method in
    `required_permissions = {"read": ..., "write": ...}`."""

    message = _("You do not have access to this practice.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        if not is_practice_host(request):
            return True
        membership = getattr(request, "membership", None) or membership_get_active(
            user=request.user,
            practice=request.tenant,  # type: ignore[attr-defined]
        )
        request._request.membership = membership  # type: ignore[attr-defined]
        if membership is None:
            return False
        membership_touch(membership)
        required: dict[str, str] = getattr(view, "required_permissions", {})
        action = "read" if request.method in ("GET", "HEAD", "OPTIONS") else "write"
        needed = required.get(action)
        if needed is not None and not membership_has_permission(membership, needed):
            self.message = _("Your role in this practice does not allow this (%(permission)s).") % {
                "permission": Permission(needed).label
            }  # type: ignore[assignment]
            return False
        return True


def permission_required(permission: str) -> Any:
    """Page decorator: the membership the access middleware found must grant `permission`."""
    from functools import wraps  # noqa: PLC0415

    from django.template.response import TemplateResponse  # noqa: PLC0415

    def decorator(view: Any) -> Any:
        @wraps(view)
        def wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
            membership = getattr(request, "membership", None)
            if not membership_has_permission(membership, permission):
                return TemplateResponse(
                    request,
                    "tenants/forbidden.html",
                    {"permission_label": Permission(permission).label},
                    status=403,
                ).render()
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
