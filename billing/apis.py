"""Billing API: the Stripe webhook (base domain) and a practice's billing summary (practice host)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors, services, webhooks
from billing.models import LedgerEntry, Payment
from tenants.access import Permission, current_practice


class StripeWebhookApi(APIView):
    """Receives Stripe events. Verifies the signature against the configured secrets, stores the
    event once, answers fast; a task processes it after commit."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    class OutputSerializer(serializers.Serializer):
        received = serializers.BooleanField()
        duplicate = serializers.BooleanField()

    @extend_schema(
        request={"application/json": {"type": "object"}},
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(description="Bad signature, or a body that is not a sound Stripe event"),
            413: OpenApiResponse(description="A body larger than any Stripe event"),
        },
    )
    def post(self, request: Request) -> Response:
        # Before the body is read: a declared size too big for a Stripe event is refused unread.
        webhooks.body_size_check(request.META.get("CONTENT_LENGTH"))
        _event, created = services.webhook_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
        return Response({"received": True, "duplicate": not created})


class BillingSummaryApi(APIView):
    """Plan, credit balance, ledger, invoices and rewards of this practice."""

    required_permissions = {"read": Permission.VIEW_BILLING, "write": Permission.MANAGE_BILLING}

    class LedgerSerializer(serializers.ModelSerializer):
        class Meta:
            model = LedgerEntry
            fields = ("id", "created_at", "kind", "amount_cents", "currency", "description")

    class PaymentSerializer(serializers.ModelSerializer):
        class Meta:
            model = Payment
            fields = (
                "stripe_invoice_id",
                "number",
                "paid_at",
                "amount_cents",
                "currency",
                "hosted_invoice_url",
                "is_reversed",
            )

    class RewardSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        created_at = serializers.DateTimeField()
        amount_cents = serializers.IntegerField()
        currency = serializers.CharField()
        status = serializers.CharField()
        reason = serializers.CharField(
            help_text="Why the reward is in its status, in plain words (never staff notes or Stripe errors)."
        )
        hold_until = serializers.DateTimeField()
        credited_at = serializers.DateTimeField(allow_null=True)

    class OutputSerializer(serializers.Serializer):
        plan = serializers.CharField()
        subscription_status = serializers.CharField()
        credit_balance_cents = serializers.IntegerField()
        ledger = serializers.ListField(child=serializers.DictField())
        payments = serializers.ListField(child=serializers.DictField())
        rewards = serializers.ListField(child=serializers.DictField())

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        practice = current_practice(request)
        summary = selectors.billing_summary(account=services.account_for(practice), limit=100)
        return Response(
            {
                "plan": summary.account.plan.code,
                "subscription_status": summary.account.subscription_status,
                "credit_balance_cents": summary.credit_balance_cents,
                "ledger": self.LedgerSerializer(summary.ledger, many=True).data,
                "payments": self.PaymentSerializer(summary.payments, many=True).data,
                "rewards": self.RewardSerializer(summary.reward_lines, many=True).data,
            }
        )
