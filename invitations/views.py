"""Invitation pages on the practice host: inviting and the list. Accepting a link (base domain)
is a door: accounts.views.invitation_accept."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from billing.limits import Seats, is_practitioner_role, practitioner_seats
from dentaltap.emails import email_language
from dentaltap.errors import ApplicationError
from dentaltap.forms import form_errors_add
from dentaltap.ratelimit import RateLimited, rate_limit_check, request_keys
from invitations import selectors, services
from invitations.forms import InviteForm
from invitations.roles import role_choices
from invitations.services import InvitationBatch
from tenants.access import Permission, current_practice, permission_required
from tenants.models import Role

# --------------------------------------------------------------------------- practice host


def _invite_form(request: HttpRequest, data: Any = None, seats: Seats | None = None) -> InviteForm:
    choices = role_choices(getattr(request, "membership", None))
    initial = Role.ASSISTANT if any(value == Role.ASSISTANT for value, _label in choices) else Role.GUEST
    language = email_language(user=request.user, fallback=translation.get_language())  # type: ignore[arg-type]
    return InviteForm(data, role_choices=choices, initial_role=initial, initial_language=language, seats=seats)


def _seat_warning(batch: InvitationBatch | None, role: str, seats: Seats | None) -> str:
    """After inviting practitioners: whether the plan has seats for them all when they accept."""
    if batch is None or seats is None or not is_practitioner_role(role) or not batch.invitations:
        return ""
    invited = len(batch.invitations)
    if invited <= seats.left:
        return ""
    if seats.left == 0:
        return ngettext(
            "Your %(plan)s plan has no practitioner seat left: this invitee cannot join as %(role)s until you "
            "upgrade on the Billing page.",
            "Your %(plan)s plan has no practitioner seat left: these invitees cannot join as %(role)s until you "
            "upgrade on the Billing page.",
            invited,
        ) % {"plan": seats.plan_name, "role": Role(role).label}
    return ngettext(
        "Your %(plan)s plan has %(left)d practitioner seat left: only the first to accept can join as %(role)s "
        "until you upgrade on the Billing page.",
        "Your %(plan)s plan has %(left)d practitioner seats left: only the first %(left)d to accept can join as "
        "%(role)s until you upgrade on the Billing page.",
        seats.left,
    ) % {"plan": seats.plan_name, "left": seats.left, "role": Role(role).label}


@require_http_methods(["GET", "POST"])
@permission_required(Permission.INVITE_COLLEAGUES)
def invitation_list(request: HttpRequest) -> HttpResponse:
    practice = current_practice(request)
    seats = practitioner_seats(practice=practice)
    form = _invite_form(request, request.POST or None, seats)
    batch = None
    seat_warning = ""
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            rate_limit_check(scope="invitation_create", keys=request_keys(request))
            batch = services.invitation_create_many(
                practice=practice,
                invited_by=request.user,  # type: ignore[arg-type]
                emails=form.cleaned_data["emails"],
                role=form.cleaned_data["role"],
                message=form.cleaned_data["message"],
                language=form.cleaned_data["language"],
            )
        except RateLimited as error:
            form_errors_add(form, error)
            status = error.status_code
        except ApplicationError as error:
            form_errors_add(form, error)
        else:
            seat_warning = _seat_warning(batch, form.cleaned_data["role"], seats)
            form = _invite_form(request, seats=seats)  # a fresh form for the next batch
    if form.errors and status == 200:
        status = 400
    page = Paginator(selectors.invitations_for_practice(practice=practice), 50).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "batch": batch,
        "page": page,
        "seats": seats,
        "seat_warning": seat_warning,
        "seat_blocked": selectors.invitations_seat_blocked(practice=practice),
    }
    return render(request, "invitations/invitation_list.html", context, status=status)


def _manage(request: HttpRequest, invitation_id: int, action: str) -> HttpResponse:
    practice = current_practice(request)
    operation = services.invitation_resend if action == "resend" else services.invitation_revoke
    try:
        invitation = operation(invitation_id=invitation_id, practice=practice, by=request.user)  # type: ignore[arg-type]
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        text = _("Invitation to %(email)s sent again.") if action == "resend" else _("Invitation to %(email)s revoked.")
        messages.success(request, text % {"email": invitation.email})
    return HttpResponseRedirect(reverse("invitation-list"))


@require_POST
@permission_required(Permission.INVITE_COLLEAGUES)
def invitation_resend(request: HttpRequest, invitation_id: int) -> HttpResponse:
    return _manage(request, invitation_id, "resend")


@require_POST
@permission_required(Permission.INVITE_COLLEAGUES)
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    return _manage(request, invitation_id, "revoke")
