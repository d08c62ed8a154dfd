from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants import selectors, services
from tenants.urls_helpers import practice_url


class PracticeListApi(APIView):
    """The practices the current user may enter, with their role."""

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField(source="practice.id")
        name = serializers.CharField(source="practice.name")
        slug = serializers.CharField(source="practice.slug")
        role = serializers.CharField()
        url = serializers.SerializerMethodField()

        def get_url(self, membership: object) -> str:
            return practice_url(membership.practice)  # type: ignore[attr-defined]

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        memberships = selectors.memberships_for_switcher(user=request.user)  # type: ignore[arg-type]
        return Response(self.OutputSerializer(memberships, many=True).data)


class SignupApi(APIView):
    """Create an account and its own practice."""

    permission_classes = (AllowAny,)
    authentication_classes = ()

    class InputSerializer(serializers.Serializer):
        full_name = serializers.CharField(max_length=150)
        email = serializers.EmailField()
        password = serializers.CharField(write_only=True)
        practice_name = serializers.CharField(max_length=120)
        practice_slug = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")

    class OutputSerializer(serializers.Serializer):
        user_id = serializers.IntegerField()
        practice_id = serializers.IntegerField()
        practice_url = serializers.URLField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, practice = services.account_signup(**serializer.validated_data)
        body = {"user_id": user.pk, "practice_id": practice.pk, "practice_url": practice_url(practice)}
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)
