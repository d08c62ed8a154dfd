"""The "Refer colleagues" page (base domain, any logged-in user) and its QR code image."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import cached_property
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from dentaltap.ratelimit import client_ip
from referrals import selectors, services
from rewards import dashboard, dashboard_figures, dashboard_programs
from tenants.access import Permission, active_membership_filter, membership_has_permission
from tenants.models import Membership, User
from tenants.urls_helpers import practice_url

REFERRALS_PER_PAGE = 25


def invite_pages(*, user: User) -> list[dict[str, str]]:
    """The invite page of every practice where the user may invite: an invitation email carries
    their referral link, so "send by email" goes through the invitations flow."""
    return [
        {"practice": membership.practice.name, "url": practice_url(membership.practice, "/invitations/")}
        for membership in Membership.objects.filter(active_membership_filter(), user=user)
        .select_related("practice")
        .order_by("practice__name")
        if membership_has_permission(membership, Permission.INVITE_COLLEAGUES)
    ]


class _CountedPaginator(Paginator):
    """A paginator told its count (the funnel's signups): no second COUNT of the referrals."""

    def __init__(self, object_list: Any, per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._count = count

    @cached_property
    def count(self) -> int:
        return self._count


@login_required
@require_GET
def referral_dashboard(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    code = services.referral_code_get_or_create(user=user)
    services.referrer_address_record(user=user, ip_address=client_ip(request))
    link = dashboard.referral_link(code)
    figures = dashboard_figures.referrer_figures(user=user, code=code)
    funnel = figures.funnel
    paginator = _CountedPaginator(dashboard.referrer_referrals(user=user), REFERRALS_PER_PAGE, count=funnel.signups)
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "link": link,
        "messages_to_share": dashboard.share_messages(link=link),
        "funnel": funnel,
        "weekly": dashboard_figures.referrer_weekly(user=user),
        "page": page,
        "rows": dashboard.referral_rows(page.object_list),
        "invite_pages": invite_pages(user=user),
        "invitations_sent": figures.invitations_sent,
        "access_requests": selectors.access_requests_of_user(user=user) if figures.has_access_requests else [],
        "programs": dashboard_programs.program_panels(user=user, paid=funnel.paid_conversions),
        "points": dashboard_programs.points_panel(user=user, balance=figures.points_balance),
        "received": dashboard_programs.received_rows(user=user) if figures.has_received else [],
        "has_statement": figures.has_statement,
    }
    return render(request, "rewards/dashboard.html", context)


@login_required
@require_GET
@cache_control(private=True, max_age=3600)
def referral_qr_code(request: HttpRequest) -> HttpResponse:
    """The user's own referral link as a QR code (SVG), to print or show on a phone."""
    code = services.referral_code_get_or_create(user=request.user)  # type: ignore[arg-type]
    response = HttpResponse(dashboard.qr_svg(dashboard.referral_link(code)), content_type="image/svg+xml")
    response["Content-Disposition"] = 'inline; filename="dentaltap-referral-qr.svg"'
    return response
