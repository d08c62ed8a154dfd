"""Referral API: the user's own link and figures, signup through a link (base domain); access
requests and the practice's link setting (practice host)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dentaltap.schema import error_responses
from referrals import selectors, services
from referrals.models import AccessRequest, Referral, ReferralVisit
from tenants.access import Permission, current_practice
from tenants.models import Role
from tenants.team.audit import RequestMeta
from tenants.urls_helpers import public_url


class ReferralMeApi(APIView):
    """The current user's referral code, link and figures."""

    class OutputSerializer(serializers.Serializer):
        code = serializers.CharField()
        link = serializers.URLField()
        visits = serializers.IntegerField()
        signups = serializers.IntegerField()

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        code = services.referral_code_get_or_create(user=request.user)  # type: ignore[arg-type]
        body = {
            "code": code.code,
            "link": public_url(f"/r/{code.code}/"),
            "visits": ReferralVisit.objects.filter(referral_code=code).count(),
            "signups": Referral.objects.filter(referrer=code.user).count(),
        }
        return Response(self.OutputSerializer(body).data)


class AccessRequestWithdrawApi(APIView):
    """The newcomer declines the access they asked for; their own practice stays."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, access_request_id: int) -> Response:
        services.access_request_withdraw(access_request_id=access_request_id, by=request.user)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- practice host


class AccessRequestOutputSerializer(serializers.ModelSerializer[AccessRequest]):
    requester_email = serializers.EmailField(source="requester.email")
    requester_name = serializers.CharField(source="requester.full_name")

    class Meta:
        model = AccessRequest
        fields = ("id", "requester_email", "requester_name", "status", "granted_role", "created_at", "decided_at")
        read_only_fields = fields


class AccessRequestListApi(APIView):
    """Pending access requests of this practice."""

    required_permissions = {"read": Permission.MANAGE_TEAM}

    @extend_schema(responses=AccessRequestOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        pending = selectors.access_requests_pending(practice=current_practice(request))
        return Response(AccessRequestOutputSerializer(pending, many=True).data)


class AccessRequestApproveApi(APIView):
    required_permissions = {"write": Permission.MANAGE_TEAM}

    class InputSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=Role.choices, default=Role.GUEST)

    @extend_schema(request=InputSerializer, responses={200: AccessRequestOutputSerializer, **error_responses(409)})
    def post(self, request: Request, access_request_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        access_request = services.access_request_approve(
            access_request_id=access_request_id,
            practice=current_practice(request),
            by=request.user,  # type: ignore[arg-type]
            role=serializer.validated_data["role"],
        )
        return Response(AccessRequestOutputSerializer(access_request).data)


class AccessRequestDeclineApi(APIView):
    required_permissions = {"write": Permission.MANAGE_TEAM}

    @extend_schema(request=None, responses={200: AccessRequestOutputSerializer, **error_responses(409)})
    def post(self, request: Request, access_request_id: int) -> Response:
        access_request = services.access_request_decline(
            access_request_id=access_request_id,
            practice=current_practice(request),
            by=request.user,  # type: ignore[arg-type]
        )
        return Response(AccessRequestOutputSerializer(access_request).data)


class ReferralSettingsApi(APIView):
    """Whether this practice's referral links grant the guest role at once (default: no, an
    owner approves each access request)."""

    required_permissions = {"read": Permission.MANAGE_TEAM, "write": Permission.MANAGE_TEAM}

    class SettingsSerializer(serializers.Serializer):
        links_grant_guest_access = serializers.BooleanField()

    @extend_schema(responses=SettingsSerializer)
    def get(self, request: Request) -> Response:
        value = selectors.practice_links_grant_guest_access(practice=current_practice(request))
        return Response({"links_grant_guest_access": value})

    @extend_schema(request=SettingsSerializer, responses=SettingsSerializer)
    def put(self, request: Request) -> Response:
        serializer = self.SettingsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = services.practice_referral_settings_update(
            practice=current_practice(request),
            by=request.user,  # type: ignore[arg-type]
            meta=RequestMeta.from_request(request._request),
            **serializer.validated_data,
        )
        return Response({"links_grant_guest_access": row.links_grant_guest_access})
