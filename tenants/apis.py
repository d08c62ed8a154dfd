from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants import selectors
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
