"""The reward catalogue API (base domain): the user's points and the catalogue, and redeeming
one item. A redemption needs an `Idempotency-Key` header: the same key returns the first
redemption (201 and the same body), never a second one. Refusals (balance, stock, expiry, an
unknown item, a key reused for another item) are 4xx in the one error shape."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dentaltap.errors import ApplicationError
from dentaltap.serializers import TranslatedField
from rewards import dashboard_programs, points
from rewards.dashboard_apis import CatalogueItemSerializer
from rewards.models import Redemption
from tenants.models import User

IDEMPOTENCY_HEADER = "Idempotency-Key"
KEY_MAX_LENGTH = 100


class CatalogueRowSerializer(CatalogueItemSerializer):
    affordable = serializers.BooleanField()


class RedemptionSerializer(serializers.ModelSerializer[Redemption]):
    item_name = TranslatedField(source="item", help_text="In the request's language (English when not translated).")

    class Meta:
        model = Redemption
        fields = ("id", "item", "item_name", "points", "created_at", "fulfilled_at")
        read_only_fields = fields


def _idempotency_key(request: Request) -> str:
    key = str(request.headers.get(IDEMPOTENCY_HEADER, "")).strip()
    if not key:
        raise ApplicationError(
            _("A redemption needs an Idempotency-Key header (any unique text, the same on a retry)."),
            code="idempotency_key_required",
            fields={IDEMPOTENCY_HEADER: [_("This header is required.")]},
        )
    if len(key) > KEY_MAX_LENGTH or not key.isprintable():
        raise ApplicationError(
            _("The Idempotency-Key header must be at most 100 printable characters."),
            code="idempotency_key_invalid",
            fields={IDEMPOTENCY_HEADER: [_("At most 100 printable characters.")]},
        )
    return key


class RewardCatalogueApi(APIView):
    """The user's points balance (possibly below zero), what each catalogue item costs and
    whether they can afford it, and their last redemptions."""

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RewardCatalogue"

        balance = serializers.IntegerField()
        below_zero = serializers.BooleanField()
        words = serializers.CharField()
        items = CatalogueRowSerializer(many=True)
        redemptions = RedemptionSerializer(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        user: User = request.user  # type: ignore[assignment]
        panel = dashboard_programs.points_panel(user=user)
        items = points.catalogue_available()
        for item in items:
            item.affordable = item.cost_points <= panel.balance  # type: ignore[attr-defined]
        body = {
            "balance": panel.balance,
            "below_zero": panel.below_zero,
            "words": panel.words,
            "items": items,
            "redemptions": Redemption.objects.filter(user=user).select_related("item")[:20],
        }
        return Response(self.OutputSerializer(body).data)


class RedemptionCreateApi(APIView):
    """Redeem one catalogue item with the user's points, once per Idempotency-Key."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RedemptionCreate"

        item = serializers.IntegerField(min_value=1, max_value=2_147_483_647)

    @extend_schema(
        request=InputSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="Any unique text of at most 100 characters; a retry with the same key returns the "
                "first redemption and spends nothing more.",
            )
        ],
        responses={201: RedemptionSerializer},
    )
    def post(self, request: Request) -> Response:
        key = _idempotency_key(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        redemption = points.redemption_create(
            user=request.user,  # type: ignore[arg-type]
            item_id=serializer.validated_data["item"],
            idempotency_key=key,
        )
        return Response(RedemptionSerializer(redemption).data, status=status.HTTP_201_CREATED)
