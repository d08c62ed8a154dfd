"""Billing API: the Stripe webhook (base domain) and a practice's billing summary (practice host)."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest, HttpResponse, JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors, services, webhooks
from billing.models import LedgerEntry, Payment
from dentaltap.errors import ApplicationError, application_error_body
from dentaltap.translated import translated
from tenants.access import Permission, current_practice


class JsonOnly(BaseContentNegotiation):
    """Stripe reads JSON only: no Accept header to parse, no body parser to pick (the view reads
    the raw body, which its signature covers)."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return None

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class StripeWebhookApi(APIView):
    """Receives Stripe events. Verifies the signature against the configured secrets, stores the
    event once, answers fast; a task processes it after commit. The hottest address of the app
    (billing/middleware.py, issue 14): nothing per request that Stripe does not need."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()
    parser_classes = ()
    renderer_classes = (JSONRenderer,)
    content_negotiation_class = JsonOnly

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
    def post(self, request: Request) -> HttpResponse:
        return stripe_webhook_answer(request._request)


def stripe_webhook_answer(request: HttpRequest) -> HttpResponse:
    """The webhook's answer, whole: the view above and the middleware's short way
    (billing/middleware.py) both give this one, DRF adding nothing Stripe needs. A body that is
    not a sound, signed Stripe event is a 4xx in the project's error shape."""
    try:
        # Before the body is read: a declared size too big for a Stripe event is refused unread.
        webhooks.body_size_check(request.META.get("CONTENT_LENGTH"))
        created = services.webhook_receive(payload=request.body, signature=request.META.get("HTTP_STRIPE_SIGNATURE"))
    except ApplicationError as error:
        return JsonResponse(application_error_body(error), status=error.status_code)
    return JsonResponse({"received": True, "duplicate": not created})


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
        value_label = serializers.CharField(help_text='What it is worth in words, e.g. "$50.00" or "300 points".')
        received = serializers.BooleanField(help_text="Received for being referred (the two-sided half).")

    class OutputSerializer(serializers.Serializer):
        plan = serializers.CharField(help_text="The plan's code.")
        plan_name = serializers.CharField(
            help_text="The plan's name in the request's language (English when not translated)."
        )
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
                "plan_name": translated(summary.account.plan),
                "subscription_status": summary.account.subscription_status,
                "credit_balance_cents": summary.credit_balance_cents,
                "ledger": self.LedgerSerializer(summary.ledger, many=True).data,
                "payments": self.PaymentSerializer(summary.payments, many=True).data,
                "rewards": self.RewardSerializer(summary.reward_lines, many=True).data,
            }
        )
