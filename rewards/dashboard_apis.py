"""The "Refer colleagues" API (base domain): the user's own link, figures, messages and
referrals. Every query is filtered on the requesting user: another user's referral is a 404."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dentaltap import formatting
from referrals import services
from rewards import dashboard
from tenants.models import User
from tenants.urls_helpers import public_url


class FunnelSerializer(serializers.Serializer):
    visits = serializers.IntegerField()
    signups = serializers.IntegerField()
    access_requests = serializers.IntegerField()
    paid_conversions = serializers.IntegerField()
    not_eligible = serializers.IntegerField()
    under_review = serializers.IntegerField()
    rewards_pending = serializers.IntegerField()
    rewards_credited = serializers.IntegerField()
    rewards_cancelled = serializers.IntegerField()
    rewards_clawed_back = serializers.IntegerField()
    earned_cents = serializers.IntegerField(help_text="Credits minus clawbacks in the ledger, integer cents.")
    currency = serializers.CharField()


class WeekSerializer(serializers.Serializer):
    week = serializers.DateField(help_text="The Monday the week starts on.")
    signups = serializers.IntegerField()
    conversions = serializers.IntegerField()


class ReferralRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email_masked = serializers.CharField()
    created_at = serializers.DateTimeField()
    source = serializers.CharField()  # type: ignore[assignment]
    source_label = serializers.CharField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)


class ReferralDashboardApi(APIView):
    """The user's referral link, QR code address, figures and weekly series."""

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReferralDashboard"

        code = serializers.CharField()
        link = serializers.URLField()
        qr_code_url = serializers.URLField()
        funnel = FunnelSerializer()
        earned_display = serializers.CharField(help_text="The total earned as the pages show it, e.g. $50.00.")
        weekly = WeekSerializer(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        user: User = request.user  # type: ignore[assignment]
        code = services.referral_code_get_or_create(user=user)
        funnel = dashboard.referrer_funnel(user=user, code=code)
        body = {
            "code": code.code,
            "link": dashboard.referral_link(code),
            "qr_code_url": public_url("/referrals/qr.svg"),
            "funnel": asdict(funnel),
            "earned_display": formatting.money(funnel.earned_cents, funnel.currency),
            "weekly": dashboard.referrer_weekly(user=user),
        }
        return Response(self.OutputSerializer(body).data)


class ReferralMessagesApi(APIView):
    """Ready-to-send messages with the user's link, one per channel, with share URLs."""

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReferralShareMessage"

        channel = serializers.CharField()
        label = serializers.CharField()  # type: ignore[assignment]
        subject = serializers.CharField(allow_blank=True)
        text = serializers.CharField()
        share_url = serializers.CharField()

    @extend_schema(
        parameters=[OpenApiParameter("language", str, description="en, de or ru (default: the request's)")],
        responses=OutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        code = services.referral_code_get_or_create(user=request.user)  # type: ignore[arg-type]
        language = str(request.query_params.get("language", ""))[:10] or None
        messages = dashboard.share_messages(link=dashboard.referral_link(code), language=language)
        return Response(self.OutputSerializer([asdict(message) for message in messages], many=True).data)


class ReferralListApi(APIView):
    """The user's referrals, newest first: name, masked email, when, how, status and reason."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReferralListQuery"

        limit = serializers.IntegerField(min_value=1, max_value=200, default=50)
        offset = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReferralListPage"

        count = serializers.IntegerField()
        results = ReferralRowSerializer(many=True)

    @extend_schema(
        operation_id="referral_dashboard_referrals_list", parameters=[InputSerializer], responses=OutputSerializer
    )
    def get(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        limit, offset = params.validated_data["limit"], params.validated_data["offset"]
        referrals = dashboard.referrer_referrals(user=request.user)  # type: ignore[arg-type]
        rows = [asdict(row) for row in dashboard.referral_rows(referrals[offset : offset + limit])]
        return Response(self.OutputSerializer({"count": referrals.count(), "results": rows}).data)


class ReferralDetailApi(APIView):
    """One of the user's referrals. Another user's referral, or none: 404 (never a 403, which
    would tell an attacker the id exists)."""

    @extend_schema(operation_id="referral_dashboard_referrals_retrieve", responses=ReferralRowSerializer)
    def get(self, request: Request, referral_id: int) -> Response:
        referral = dashboard.referrer_referrals(user=request.user).filter(pk=referral_id).first()  # type: ignore[arg-type]
        if referral is None:
            raise NotFound()
        return Response(ReferralRowSerializer(asdict(dashboard.referral_rows([referral])[0])).data)
