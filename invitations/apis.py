"""Invitation API: managing invitations (practice host) and accepting them (base domain)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dentaltap.pagination import PageNumberPaginationChecked
from dentaltap.ratelimit import rate_limit_check, request_keys
from dentaltap.schema import error_responses
from dentaltap.serializers import SentLengthChecked
from invitations import selectors, services
from invitations.models import Invitation
from tenants.access import Permission, current_practice
from tenants.models import Role
from tenants.urls_helpers import practice_url, public_url


class InvitationOutputSerializer(serializers.ModelSerializer[Invitation]):
    status = serializers.CharField(source="effective_status")
    invited_by = serializers.EmailField(source="invited_by.email", allow_null=True, default=None)

    class Meta:
        model = Invitation
        fields = ("id", "email", "role", "message", "status", "invited_by", "expires_at", "sent_at", "accepted_at")
        read_only_fields = fields


class InvitationListCreateApi(APIView):
    """List the practice's invitations; invite one or many emails (pending ones are resent)."""

    required_permissions = {"read": Permission.INVITE_COLLEAGUES, "write": Permission.INVITE_COLLEAGUES}
    pagination_class = PageNumberPaginationChecked  # also tells the schema the list is a page

    class InputSerializer(SentLengthChecked, serializers.Serializer):
        emails = serializers.ListField(
            child=serializers.CharField(max_length=320, allow_blank=True),
            allow_empty=False,
            help_text="Addresses to invite; invalid ones are reported one by one, valid ones sent.",
        )
        role = serializers.ChoiceField(choices=Role.choices, default=Role.ASSISTANT)
        message = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
        language = serializers.ChoiceField(
            choices=settings.LANGUAGES,
            required=False,
            help_text="The email's language for addresses without an account (default: the inviter's).",
        )

    class IssueSerializer(serializers.Serializer):
        email = serializers.CharField()
        code = serializers.CharField()
        message = serializers.CharField()

    class OutputSerializer(serializers.Serializer):
        created = InvitationOutputSerializer(many=True)
        resent = InvitationOutputSerializer(many=True)
        issues = serializers.ListField(child=serializers.DictField())

    @extend_schema(responses=InvitationOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        invitations = selectors.invitations_for_practice(practice=current_practice(request))
        page = paginator.paginate_queryset(invitations, request, view=self)
        return paginator.get_paginated_response(InvitationOutputSerializer(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer, **error_responses(429)})
    def post(self, request: Request) -> Response:
        rate_limit_check(scope="invitation_create", keys=request_keys(request))
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        batch = services.invitation_create_many(
            practice=current_practice(request),
            invited_by=request.user,  # type: ignore[arg-type]
            **serializer.validated_data,
        )
        body = {
            "created": InvitationOutputSerializer(batch.created, many=True).data,
            "resent": InvitationOutputSerializer(batch.resent, many=True).data,
            "issues": [self.IssueSerializer(issue).data for issue in batch.issues],
        }
        return Response(body, status=status.HTTP_201_CREATED)


class InvitationResendApi(APIView):
    """Send the invitation again: a new link (the old one stops working), the expiry reset."""

    required_permissions = {"write": Permission.INVITE_COLLEAGUES}

    @extend_schema(request=None, responses={200: InvitationOutputSerializer, **error_responses(409)})
    def post(self, request: Request, invitation_id: int) -> Response:
        invitation = services.invitation_resend(
            invitation_id=invitation_id,
            practice=current_practice(request),
            by=request.user,  # type: ignore[arg-type]
        )
        return Response(InvitationOutputSerializer(invitation).data)


class InvitationRevokeApi(APIView):
    """Withdraw a pending invitation: its link stops working."""

    required_permissions = {"write": Permission.INVITE_COLLEAGUES}

    @extend_schema(request=None, responses={200: InvitationOutputSerializer, **error_responses(409)})
    def post(self, request: Request, invitation_id: int) -> Response:
        invitation = services.invitation_revoke(
            invitation_id=invitation_id,
            practice=current_practice(request),
            by=request.user,  # type: ignore[arg-type]
        )
        return Response(InvitationOutputSerializer(invitation).data)


# --------------------------------------------------------------------------- base domain


class InvitationPreviewApi(APIView):
    """What an invitation link offers. 404 for an unknown token; 410 for an expired, revoked or
    used one (the error code says which)."""

    permission_classes = (AllowAny,)

    class OutputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        role = serializers.CharField()
        practice_name = serializers.CharField(source="practice.name")
        inviter_name = serializers.SerializerMethodField()
        message = serializers.CharField()
        expires_at = serializers.DateTimeField()

        def get_inviter_name(self, invitation: Invitation) -> str:
            return invitation.invited_by.get_full_name() if invitation.invited_by else ""

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, token: str) -> Response:
        invitation = services.invitation_get_usable(token=token)
        return Response(self.OutputSerializer(invitation).data)


class InvitationAcceptApi(APIView):
    """The logged-in user accepts an invitation sent to their own email."""

    permission_classes = (IsAuthenticated,)

    class OutputSerializer(serializers.Serializer):
        practice_id = serializers.IntegerField()
        practice_url = serializers.URLField()
        role = serializers.CharField()
        switcher_url = serializers.URLField()

    @extend_schema(request=None, responses=OutputSerializer)
    def post(self, request: Request, token: str) -> Response:
        rate_limit_check(scope="invitation_accept", keys=request_keys(request))
        membership = services.invitation_accept(token=token, user=request.user)  # type: ignore[arg-type]
        body = {
            "practice_id": membership.practice_id,
            "practice_url": practice_url(membership.practice),
            "role": membership.role,
            "switcher_url": public_url("/practices/"),
        }
        return Response(self.OutputSerializer(body).data)
