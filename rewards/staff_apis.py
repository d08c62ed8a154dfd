"""Staff-only referral analytics API (base domain): figures, the review queue, decisions."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from referrals import services
from referrals.models import Referral
from rewards import analytics
from rewards.models import RewardRecipient


class StaffApi(APIView):
    permission_classes = (IsAuthenticated, IsAdminUser)


class AnalyticsQuerySerializer(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="YYYY-MM-DD (default: 12 months ago)")
    end = serializers.DateField(required=False, help_text="YYYY-MM-DD, inclusive (default: today)")
    cohort = serializers.ChoiceField(choices=["month", "week"], required=False)


class StaffReferralAnalyticsApi(StaffApi):
    """Channel share per month, the funnel per signup cohort, economics, top referrers, and the
    breakdown by program, by partner and by rule.
    A reversed, unparseable or over-5-year range is a 400 naming the problem."""

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "StaffReferralAnalytics"

        start = serializers.DateField()
        end = serializers.DateField()
        cohort = serializers.CharField()
        channel_share = serializers.ListField(child=serializers.DictField())
        cohorts = serializers.ListField(child=serializers.DictField())
        economics = serializers.DictField()
        top_referrers = serializers.ListField(child=serializers.DictField())
        by_program = serializers.ListField(
            child=serializers.DictField(),
            help_text="Per program (the one that applied to the referrer at signup; 'none': no program): "
            "signups, paid, rewards, reward_cost_cents (ledger, net of clawbacks), points, revenue_cents, roi.",
        )
        by_partner = serializers.ListField(
            child=serializers.DictField(),
            help_text="Per partner whose code attributed the referral ('none': no partner; program_name: the "
            "partner's program): signups, paid, rewards, reward_cost_cents (ledger net of clawbacks, plus revenue "
            "share in cash), points, revenue_cents of the practices it brought, roi.",
        )
        by_rule = serializers.ListField(
            child=serializers.DictField(),
            help_text="Per rule: rewards, rewarded_referrals, reward_cost_cents, points, revenue_cents of the "
            "practices it rewarded, roi (signups and paid are null: a rule owns no signups).",
        )

    @extend_schema(parameters=[AnalyticsQuerySerializer], responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        period_range = analytics.date_range_parse(request.query_params)
        return Response(analytics.analytics_build(period_range=period_range).as_dict())


class ReviewQueueRowSerializer(serializers.ModelSerializer[Referral]):
    referrer_email = serializers.EmailField(source="referrer.email")
    referred_email = serializers.EmailField(source="referred_user.email")
    reward_status = serializers.SerializerMethodField(help_text="The referrer's first reward's status, if any.")

    class Meta:
        model = Referral
        fields = (
            "id", "created_at", "referrer_email", "referred_email", "source", "eligibility",
            "eligibility_reason", "eligibility_note", "signup_ip", "reward_status",
        )  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_reward_status(self, referral: Referral) -> str | None:
        rewards = [reward for reward in referral.rewards.all() if reward.recipient == RewardRecipient.REFERRER]
        return min(rewards, key=lambda reward: reward.pk).status if rewards else None


class StaffReviewQueueApi(StaffApi):
    """Flagged referrals waiting for a staff decision, oldest first."""

    @extend_schema(responses=ReviewQueueRowSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(ReviewQueueRowSerializer(analytics.review_queue(), many=True).data)


class StaffReferralReviewApi(StaffApi):
    """Approve (eligible; a held reward is released) or reject (not eligible; a reward not yet
    credited is rejected). An unknown referral is a 404."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "StaffReferralReviewDecision"

        decision = serializers.ChoiceField(choices=services.ReviewDecision.CHOICES)
        note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses=ReviewQueueRowSerializer)
    def post(self, request: Request, referral_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        referral = services.referral_review_decide(
            referral_id=referral_id,
            actor=request.user,  # type: ignore[arg-type]
            **serializer.validated_data,
        )
        referral = (
            Referral.objects.select_related("referrer", "referred_user").prefetch_related("rewards").get(pk=referral.pk)
        )
        return Response(ReviewQueueRowSerializer(referral).data)
