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
from dentaltap.serializers import TranslatedField
from referrals import services
from rewards import dashboard, dashboard_figures, dashboard_programs
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


class TierStepSerializer(serializers.Serializer):
    threshold = serializers.IntegerField()
    words = serializers.CharField()
    reached = serializers.BooleanField()


class TierProgressSerializer(serializers.Serializer):
    paid = serializers.IntegerField(help_text="Paid referrals whose payment stands, as the tier rules count them.")
    next_threshold = serializers.IntegerField(allow_null=True, help_text="Null: the top tier is reached.")
    percent = serializers.IntegerField()
    words = serializers.CharField()
    maximum_reached = serializers.BooleanField()
    steps = TierStepSerializer(many=True)


class ProgramPanelSerializer(serializers.Serializer):
    program_id = serializers.IntegerField()
    name = serializers.CharField()
    currency = serializers.CharField()
    is_current = serializers.BooleanField(help_text="The program the user's referrals earn under now.")
    rules = serializers.ListField(child=serializers.CharField(), help_text="What it pays and when, in words.")
    pending_count = serializers.IntegerField()
    pending_cents = serializers.IntegerField()
    pending_points = serializers.IntegerField()
    earned_count = serializers.IntegerField()
    earned_cents = serializers.IntegerField()
    earned_points = serializers.IntegerField()
    tiers = TierProgressSerializer(allow_null=True)
    maximums = serializers.ListField(child=serializers.CharField(), help_text="Caps the user has reached.")


class CatalogueItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = TranslatedField(source="*", help_text="In the request's language (English when not translated).")
    description = TranslatedField(source="*", field="description", allow_blank=True)
    cost_points = serializers.IntegerField()
    stock = serializers.IntegerField(allow_null=True, help_text="Null: unlimited.")
    available_until = serializers.DateTimeField(allow_null=True)


class PointsPanelSerializer(serializers.Serializer):
    balance = serializers.IntegerField(help_text="May be below zero: a reward reversed after its points were spent.")
    below_zero = serializers.BooleanField()
    words = serializers.CharField()
    affordable = CatalogueItemSerializer(many=True)
    next_item = CatalogueItemSerializer(allow_null=True)


class ReceivedRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    value = serializers.CharField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    referrer_name = serializers.CharField()


class ReferralDashboardApi(APIView):
    """The user's referral link, QR code address, figures, weekly series, and per program what
    they earn (rules in words, pending, earned, tier progress); their points; what they
    received for being referred."""

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReferralDashboard"

        code = serializers.CharField()
        link = serializers.URLField()
        qr_code_url = serializers.URLField()
        funnel = FunnelSerializer()
        earned_display = serializers.CharField(help_text="The total earned as the pages show it, e.g. $50.00.")
        weekly = WeekSerializer(many=True)
        programs = ProgramPanelSerializer(many=True)
        points = PointsPanelSerializer()
        received = ReceivedRowSerializer(many=True, help_text="What the user received for being referred.")

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        user: User = request.user  # type: ignore[assignment]
        code = services.referral_code_get_or_create(user=user)
        figures = dashboard_figures.referrer_figures(user=user, code=code)
        funnel = figures.funnel
        received = dashboard_programs.received_rows(user=user) if figures.has_received else []
        body = {
            "code": code.code,
            "link": dashboard.referral_link(code),
            "qr_code_url": public_url("/referrals/qr.svg"),
            "funnel": asdict(funnel),
            "earned_display": formatting.money(funnel.earned_cents, funnel.currency),
            "weekly": dashboard_figures.referrer_weekly(user=user),
            "programs": [
                asdict(panel) for panel in dashboard_programs.program_panels(user=user, paid=funnel.paid_conversions)
            ],
            "points": dashboard_programs.points_panel(user=user, balance=figures.points_balance),
            "received": [asdict(row) for row in received],
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
