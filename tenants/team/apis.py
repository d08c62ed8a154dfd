"""Team API on a practice host: members, their access, the audit log."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dentaltap.pagination import PageNumberPaginationChecked
from tenants.access import Permission, current_practice, membership_permissions
from tenants.models import AccessChange, Membership, MembershipStatus, PermissionCode, Role
from tenants.team import selectors
from tenants.team import services as team_services
from tenants.team.audit import RequestMeta
from tenants.team.services import UNSET

TEAM = {"read": Permission.MANAGE_TEAM, "write": Permission.MANAGE_TEAM}


class MemberOutputSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")
    permissions = serializers.SerializerMethodField(
        help_text="What the member can do now: empty while suspended, expired, revoked or left."
    )
    restorable_permissions = serializers.SerializerMethodField(
        help_text="A suspended member's permissions, given back when their access is restored."
    )

    class Meta:
        model = Membership
        fields = (
            "id", "email", "full_name", "role", "status", "permissions", "restorable_permissions",
            "granted_permissions", "revoked_permissions", "joined_via", "created_at", "last_active_at", "expires_at",
        )  # fmt: skip

    def get_permissions(self, membership: Membership) -> list[str]:
        return sorted(membership_permissions(membership))

    def get_restorable_permissions(self, membership: Membership) -> list[str]:
        if membership.status != MembershipStatus.SUSPENDED:
            return []
        return sorted(selectors.effective_permissions(membership))


class MemberListApi(APIView):
    required_permissions = TEAM

    @extend_schema(responses=MemberOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        rows = selectors.team_members(practice=current_practice(request))
        return Response(MemberOutputSerializer([row.membership for row in rows], many=True).data)


class MemberDetailApi(APIView):
    required_permissions = TEAM

    class InputSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=Role.choices, required=False)
        granted_permissions = serializers.ListField(
            child=serializers.ChoiceField(choices=PermissionCode.choices), required=False
        )
        revoked_permissions = serializers.ListField(
            child=serializers.ChoiceField(choices=PermissionCode.choices), required=False
        )
        expires_at = serializers.DateTimeField(required=False, allow_null=True)

    def _get(self, request: Request, membership_id: int) -> Membership:
        return get_object_or_404(
            Membership.objects.select_related("user"), pk=membership_id, practice=current_practice(request)
        )

    @extend_schema(responses=MemberOutputSerializer)
    def get(self, request: Request, membership_id: int) -> Response:
        return Response(MemberOutputSerializer(self._get(request, membership_id)).data)

    @extend_schema(request=InputSerializer, responses=MemberOutputSerializer)
    def patch(self, request: Request, membership_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(serializer.validated_data)
        membership = team_services.membership_change(
            actor=request.user,  # type: ignore[arg-type]
            practice=current_practice(request),
            membership_id=membership_id,
            role=data.get("role"),
            granted_permissions=data.get("granted_permissions"),
            revoked_permissions=data.get("revoked_permissions"),
            expires_at=data.get("expires_at", UNSET),
            meta=RequestMeta.from_request(request._request),
        )
        return Response(MemberOutputSerializer(membership).data)


def _action_api(service: Any, summary: str) -> type[APIView]:
    class MemberActionApi(APIView):
        required_permissions = TEAM

        @extend_schema(request=None, responses=MemberOutputSerializer, summary=summary)
        def post(self, request: Request, membership_id: int) -> Response:
            membership = service(
                actor=request.user,
                practice=current_practice(request),
                membership_id=membership_id,
                meta=RequestMeta.from_request(request._request),
            )
            return Response(MemberOutputSerializer(membership).data)

    MemberActionApi.__name__ = MemberActionApi.__qualname__ = f"{service.__name__.title().replace('_', '')}Api"
    return MemberActionApi


MemberSuspendApi = _action_api(team_services.membership_suspend, "Suspend a member's access")
MemberRestoreApi = _action_api(team_services.membership_restore, "Restore a suspended access")
MemberRevokeApi = _action_api(team_services.membership_revoke, "Revoke a member's access")
OwnershipTransferApi = _action_api(team_services.ownership_transfer, "Make this member the owner")


class PracticeLeaveApi(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        team_services.membership_leave(
            user=request.user,  # type: ignore[arg-type]
            practice=current_practice(request),
            meta=RequestMeta.from_request(request._request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccessChangeOutputSerializer(serializers.ModelSerializer):
    actor = serializers.EmailField(source="actor.email", allow_null=True, default=None)
    member = serializers.EmailField(source="member.email", allow_null=True, default=None)

    class Meta:
        model = AccessChange
        fields = ("id", "created_at", "actor", "member", "action", "before", "after", "ip_address")


class AuditLogApi(APIView):
    """The practice's access log, newest first, a page at a time."""

    required_permissions = TEAM
    pagination_class = PageNumberPaginationChecked  # also tells the schema the answer is a page

    @extend_schema(responses=AccessChangeOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        changes = AccessChange.objects.filter(practice=current_practice(request)).select_related("actor", "member")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(changes, request, view=self)
        return paginator.get_paginated_response(AccessChangeOutputSerializer(page, many=True).data)
