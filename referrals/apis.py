"""Referral API: the user's own link and figures, signup through a link (base domain); access
requests and the practice's link setting (practice host)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dentaltap.ratelimit import client_ip, rate_limit_check, request_keys
from dentaltap.schema import error_responses
from referrals import selectors, services
from referrals.models import AccessRequest, Referral, ReferralVisit
from tenants.access import Permission, current_practice
from tenants.models import Role
from tenants.team_services import RequestMeta
from tenants.urls_helpers import practice_url, public_url


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


class ReferralSignupApi(APIView):
    """Sign up through a referral link: an own practice, the referral, and (unless declined) an
    access request to the referrer's practice (or guest access, if that practice allows it)."""

    permission_classes = (AllowAny,)
    authentication_classes = ()

    class InputSerializer(serializers.Serializer):
        referral_code = serializers.CharField(max_length=32)
        request_access = serializers.BooleanField(default=True)
        full_name = serializers.CharField(max_length=150)
        email = serializers.EmailField()
        password = serializers.CharField(write_only=True)
        practice_name = serializers.CharField(max_length=120)
        practice_slug = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")

    class OutputSerializer(serializers.Serializer):
        user_id = serializers.IntegerField()
        practice_id = serializers.IntegerField()
        practice_url = serializers.URLField()
        referral_id = serializers.IntegerField(allow_null=True)
        access_request_id = serializers.IntegerField(allow_null=True)
        guest_practice_id = serializers.IntegerField(allow_null=True)

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request) -> Response:
        email = str(request.data.get("email", "")).strip().lower() if hasattr(request.data, "get") else ""
        rate_limit_check(scope="signup", keys=request_keys(request, email=email))
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(serializer.validated_data)
        code = data.pop("referral_code")
        result = services.referral_signup(**data, attribution_code=code, access_code=code, signup_ip=client_ip(request))
        body = {
            "user_id": result.user.pk,
            "practice_id": result.practice.pk,
            "practice_url": practice_url(result.practice),
            "referral_id": result.referral.pk if result.referral else None,
            "access_request_id": result.access_request.pk if result.access_request else None,
            "guest_practice_id": result.guest_membership.practice_id if result.guest_membership else None,
        }
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)


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
