"""Referral pages: withdrawing an access request (base domain) and the practice's access
requests (practice host). The referral link's landing and signup is a door
(accounts.views.referral_landing); the user's own "Refer colleagues" page is in dashboard_views."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from dentaltap.errors import ApplicationError
from invitations.roles import role_choices
from referrals import selectors, services
from referrals.forms import ApproveForm, ReferralSettingsForm
from referrals.models import AccessRequest
from tenants.access import Permission, current_practice, permission_required
from tenants.models import Role
from tenants.team.audit import RequestMeta

# --------------------------------------------------------------------------- base domain


@require_POST
@login_required
def access_request_withdraw(request: HttpRequest, access_request_id: int) -> HttpResponse:
    try:
        services.access_request_withdraw(access_request_id=access_request_id, by=request.user)  # type: ignore[arg-type]
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Your access request was withdrawn. Your own practice is unchanged."))
    return HttpResponseRedirect("/referrals/")


# --------------------------------------------------------------------------- practice host


@permission_required(Permission.MANAGE_TEAM)
def access_request_list(request: HttpRequest) -> HttpResponse:
    practice = current_practice(request)
    context = {
        "pending": selectors.access_requests_pending(practice=practice),
        "recent": selectors.access_requests_recent(practice=practice),
        "settings_form": ReferralSettingsForm(
            initial={"links_grant_guest_access": selectors.practice_links_grant_guest_access(practice=practice)}
        ),
    }
    return render(request, "referrals/access_request_list.html", context)


@require_http_methods(["GET", "POST"])
@permission_required(Permission.MANAGE_TEAM)
def access_request_review(request: HttpRequest, access_request_id: int) -> HttpResponse:
    """The page an owner reaches from the email: GET shows the request; the decision is a POST
    (one click from the list or from here)."""
    practice = current_practice(request)
    access_request = (
        AccessRequest.objects.select_related("requester").filter(pk=access_request_id, practice=practice).first()
    )
    if access_request is None:
        return render(request, "referrals/access_request_missing.html", status=404)
    error_message = ""
    if request.method == "POST":
        form = ApproveForm(request.POST)
        if form.is_valid():
            try:
                if form.cleaned_data["action"] == "approve":
                    services.access_request_approve(
                        access_request_id=access_request.pk,
                        practice=practice,
                        by=request.user,  # type: ignore[arg-type]
                        role=form.cleaned_data["role"] or Role.GUEST,
                    )
                    messages.success(
                        request, _("%(name)s can now enter the practice.") % {"name": access_request.requester}
                    )
                else:
                    services.access_request_decline(
                        access_request_id=access_request.pk,
                        practice=practice,
                        by=request.user,  # type: ignore[arg-type]
                    )
                    messages.success(request, _("Request from %(name)s declined.") % {"name": access_request.requester})
            except ApplicationError as error:
                error_message = error.message
            else:
                return HttpResponseRedirect("/access-requests/")
        else:
            error_message = _("Choose approve or decline.")
    context = {
        "access_request": access_request,
        "role_choices": role_choices(getattr(request, "membership", None)),
        "error_message": error_message,
    }
    return render(request, "referrals/access_request_review.html", context, status=400 if error_message else 200)


@require_POST
@permission_required(Permission.MANAGE_TEAM)
def referral_settings_update(request: HttpRequest) -> HttpResponse:
    form = ReferralSettingsForm(request.POST)
    form.is_valid()  # a lone checkbox: always valid
    services.practice_referral_settings_update(
        practice=current_practice(request),
        by=request.user,  # type: ignore[arg-type]
        links_grant_guest_access=bool(form.cleaned_data.get("links_grant_guest_access")),
        meta=RequestMeta.from_request(request),
    )
    messages.success(request, _("Settings saved."))
    return HttpResponseRedirect("/access-requests/")
