"""The doors, as API operations on the base domain: signup plain, through a referral code and
from an invitation. One input serializer (each door adds or relaxes a field), one service."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.doors import signup_request_arguments
from accounts.services import SignupResult, account_signup
from dentaltap.ratelimit import rate_limit_check, request_keys
from dentaltap.serializers import SentLengthChecked
from tenants.urls_helpers import practice_url


class SignupInputSerializer(SentLengthChecked, serializers.Serializer):  # type: ignore[type-arg]
    """What every signup takes. `referral_code` credits a referrer (a referral link's cookie in
    the same browser wins: first touch); `partner_code` redeems a partner's code."""

    full_name = serializers.CharField(max_length=150)
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True)
    practice_name = serializers.CharField(max_length=120)
    practice_slug = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    referral_code = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    partner_code = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        default="",
        help_text="A partner's code: its benefit at checkout; it attributes the signup to the partner "
        "only when no referral link or invitation did (first touch wins).",
    )


class ReferralSignupInputSerializer(SignupInputSerializer):
    """Through a referral code: required, and it may ask for access to the referrer's practice."""

    referral_code = serializers.CharField(max_length=32)
    request_access = serializers.BooleanField(default=True)


class InvitationSignupInputSerializer(SignupInputSerializer):
    """From an invitation: the email is the invited one (optional here; another one is refused)
    and the inviter is the referrer."""

    email = serializers.EmailField(required=False)
    referral_code = None  # type: ignore[assignment]


class SignupOutputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    user_id = serializers.IntegerField()
    practice_id = serializers.IntegerField()
    practice_url = serializers.URLField()


def _output(result: SignupResult) -> dict[str, Any]:
    return {"user_id": result.user.pk, "practice_id": result.practice.pk, "practice_url": practice_url(result.practice)}


class SignupApi(APIView):
    """Create an account and its own practice."""

    permission_classes = (AllowAny,)
    authentication_classes = ()

    @extend_schema(request=SignupInputSerializer, responses={201: SignupOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = SignupInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        arguments = signup_request_arguments(request._request, referral_code=data.pop("referral_code"))
        result = account_signup(**data, **arguments)
        return Response(SignupOutputSerializer(_output(result)).data, status=status.HTTP_201_CREATED)


class ReferralSignupApi(APIView):
    """Sign up through a referral link: an own practice, the referral, and (unless declined) an
    access request to the referrer's practice (or guest access, if that practice allows it)."""

    permission_classes = (AllowAny,)
    authentication_classes = ()

    class OutputSerializer(SignupOutputSerializer):
        referral_id = serializers.IntegerField(allow_null=True)
        access_request_id = serializers.IntegerField(allow_null=True)
        guest_practice_id = serializers.IntegerField(allow_null=True)

    @extend_schema(request=ReferralSignupInputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request) -> Response:
        email = str(request.data.get("email", "")).strip().lower() if hasattr(request.data, "get") else ""
        rate_limit_check(scope="signup", keys=request_keys(request, email=email))
        serializer = ReferralSignupInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        code = data.pop("referral_code")
        result = account_signup(
            **data, referral_link_code=code, **signup_request_arguments(request._request, referral_code=code)
        )
        body = {
            **_output(result),
            "referral_id": result.referral.pk if result.referral else None,
            "access_request_id": result.access_request.pk if result.access_request else None,
            "guest_practice_id": result.guest_membership.practice_id if result.guest_membership else None,
        }
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)


class InvitationSignupApi(APIView):
    """A newcomer signs up from an invitation: their own practice plus the invited membership."""

    permission_classes = (AllowAny,)
    authentication_classes = ()

    class OutputSerializer(SignupOutputSerializer):
        invited_practice_id = serializers.IntegerField()
        invited_role = serializers.CharField()
        referral_id = serializers.IntegerField(allow_null=True)

    @extend_schema(request=InvitationSignupInputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request, token: str) -> Response:
        rate_limit_check(scope="signup", keys=request_keys(request))
        serializer = InvitationSignupInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = account_signup(
            **{"email": None, **serializer.validated_data},
            invitation_token=token,
            **signup_request_arguments(request._request),
        )
        assert result.invited_membership is not None  # noqa: S101 - an invitation signup joins
        body = {
            **_output(result),
            "invited_practice_id": result.invited_membership.practice_id,
            "invited_role": result.invited_membership.role,
            "referral_id": result.referral.pk if result.referral else None,
        }
        return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)
