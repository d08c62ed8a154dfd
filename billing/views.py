"""The practice's Billing page: plan, upgrade, invoices, credit balance and ledger, rewards."""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billing import selectors, services
from billing.models import Plan
from dentaltap.errors import ApplicationError
from tenants.access import Permission, current_practice, membership_has_permission, permission_required
from tenants.urls_helpers import practice_url


@permission_required(Permission.VIEW_BILLING)
def billing_page(request: HttpRequest) -> HttpResponse:
    return billing_page_render(request)


def billing_page_render(
    request: HttpRequest, *, extra: Mapping[str, object] | None = None, status: int = 200
) -> HttpResponse:
    """The Billing page; `extra` carries a form's errors when a POST elsewhere re-renders it
    (the partner code form, referrals.partner_views), answered with `status`."""
    practice = current_practice(request)
    account = services.account_for(practice)
    summary = selectors.billing_summary(account=account, limit=50)
    context = {
        "account": account,
        "plans": Plan.objects.filter(is_active=True),
        "balance_cents": summary.credit_balance_cents,
        "ledger": summary.ledger,
        "payments": summary.payments,
        "reward_lines": summary.reward_lines,
        "subscription_status_label": selectors.subscription_status_label(account.subscription_status),
        "has_subscription": services.has_live_subscription(account),
        "can_manage": membership_has_permission(getattr(request, "membership", None), Permission.MANAGE_BILLING),
        **(extra or {}),
    }
    return render(request, "billing/billing.html", context, status=status)


@require_POST
@permission_required(Permission.MANAGE_BILLING)
def checkout(request: HttpRequest, plan_code: str) -> HttpResponse:
    practice = current_practice(request)
    try:
        url = services.checkout_start(
            practice=practice,
            plan_code=plan_code,
            success_url=practice_url(practice, "/billing/?upgraded=1"),
            cancel_url=practice_url(practice, "/billing/"),
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("billing")
    return HttpResponseRedirect(url)


@require_POST
@permission_required(Permission.MANAGE_BILLING)
def portal(request: HttpRequest) -> HttpResponse:
    practice = current_practice(request)
    try:
        url = services.billing_portal_start(practice=practice, return_url=practice_url(practice, "/billing/"))
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("billing")
    return HttpResponseRedirect(url)
