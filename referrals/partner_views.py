"""A partner code on the Billing page (practice host), before the first payment: a page form
and its API twin, both calling `referrals.partners.partner_code_redeem_on_billing`."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import views as billing_views
from dentaltap.errors import ApplicationError
from dentaltap.ratelimit import rate_limit_check, request_keys
from referrals import partners
from referrals.models import PartnerRedemption
from tenants.access import Permission, current_practice, permission_required


def _redeemed_text(redemption: PartnerRedemption) -> str:
    if redemption.attributed:
        return _("Partner code accepted: its benefit applies at checkout.")
    return _("Partner code accepted: its benefit applies at checkout. Your referrer stays who brought you first.")


@require_POST
@permission_required(Permission.MANAGE_BILLING)
def partner_code_redeem(request: HttpRequest) -> HttpResponse:
    """POST /billing/partner-code/ from the Billing page; the answer is shown there."""
    practice = current_practice(request)
    raw = str(request.POST.get("partner_code", ""))[:40]
    try:
        rate_limit_check(scope="partner_code", keys=request_keys(request, practice=practice.pk))
        redemption = partners.partner_code_redeem_on_billing(
            practice=practice,
            user=request.user,  # type: ignore[arg-type]
            raw=raw,
        )
    except ApplicationError as error:
        # A form error beside the field, the typed code kept, as every other form does.
        extra = {"partner_code_error": error.message, "partner_code_value": raw}
        return billing_views.billing_page_render(request, extra=extra, status=error.status_code)
    messages.success(request, _redeemed_text(redemption))
    return HttpResponseRedirect("/billing/")


class PartnerCodeInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    partner_code = serializers.CharField(max_length=40)


class PartnerCodeOutputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    attributed = serializers.BooleanField(help_text="Whether the practice is now attributed to the partner.")
    trial_days = serializers.IntegerField()
    coupon = serializers.BooleanField(help_text="Whether a coupon applies at checkout.")
    message = serializers.CharField()


class PartnerCodeApi(APIView):
    """Redeem a partner code for the practice before its first payment."""

    required_permissions = {"write": Permission.MANAGE_BILLING}

    @extend_schema(request=PartnerCodeInputSerializer, responses={201: PartnerCodeOutputSerializer})
    def post(self, request: Request) -> Response:
        practice = current_practice(request._request)
        rate_limit_check(scope="partner_code", keys=request_keys(request._request, practice=practice.pk))
        serializer = PartnerCodeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        redemption = partners.partner_code_redeem_on_billing(
            practice=practice,
            user=request.user,  # type: ignore[arg-type]
            raw=serializer.validated_data["partner_code"],
        )
        batch = redemption.code.batch
        body = {
            "attributed": redemption.attributed,
            "trial_days": batch.trial_days,
            "coupon": bool(batch.stripe_coupon_id),
            "message": _redeemed_text(redemption),
        }
        return Response(PartnerCodeOutputSerializer(body).data, status=status.HTTP_201_CREATED)
