"""Invitation pages: inviting and the list (practice host), accepting (base domain)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from billing.limits import Seats, is_practitioner_role, practitioner_seats
from dentaltap.errors import ApplicationError
from dentaltap.ratelimit import RateLimited, client_ip, rate_limit_check, rate_limited, request_keys
from invitations import selectors, services
from invitations.forms import AcceptSignupForm, InviteForm, form_errors_apply
from invitations.models import Invitation
from invitations.roles import role_choices
from invitations.services import InvitationBatch
from tenants.access import Permission, current_practice, permission_required
from tenants.models import Role, User
from tenants.urls_helpers import practice_url, public_url

# --------------------------------------------------------------------------- practice host


def _invite_form(request: HttpRequest, data: Any = None, seats: Seats | None = None) -> InviteForm:
    choices = role_choices(getattr(request, "membership", None))
    initial = Role.ASSISTANT if any(value == Role.ASSISTANT for value, _label in choices) else Role.GUEST
    return InviteForm(data, role_choices=choices, initial_role=initial, seats=seats)


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
            )
        except RateLimited as error:
            form.add_error(None, error.message)
            status = error.status_code
        except ApplicationError as error:
            form_errors_apply(form, error.fields, error.message)
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


# --------------------------------------------------------------------------- base domain: accepting


def _link_problem(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    message = error.message
    if error.code == "invitation_used" and request.user.is_authenticated:
        # Logged in already: "log in" is no answer. Where they can go is.
        message = _(
            "This invitation was already used: each link works once. The practices you belong to are under "
            "My practices; if this one is missing, ask the practice for a new invitation."
        )
    return render(
        request,
        "invitations/link_problem.html",
        {"message": message, "code": error.code},
        status=error.status_code,
    )


@require_http_methods(["GET", "POST"])
@rate_limited("invitation_accept")
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the invitation; only a POST accepts it (the token is consumed once)."""
    try:
        invitation = services.invitation_get_usable(token=token)
    except ApplicationError as error:
        return _link_problem(request, error)

    if request.user.is_authenticated:
        return _accept_as_logged_in(request, invitation, token)
    return _accept_by_signup(request, invitation, token)


def _context(invitation: Invitation, **extra: Any) -> dict[str, Any]:
    return {
        "invitation": invitation,
        "inviter_name": invitation.invited_by.get_full_name() if invitation.invited_by else "",
        "practice_name": invitation.practice.name,
        "role_label": invitation.get_role_display(),
        **extra,
    }


def _accept_as_logged_in(request: HttpRequest, invitation: Invitation, token: str) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if user.email.lower() != invitation.email:
        error = services.email_mismatch_error(invited=invitation.email, current=user.email)
        return render(
            request,
            "invitations/accept_wrong_user.html",
            _context(invitation, message=error.message, current_email=user.email),
            status=403,
        )
    error_message = ""
    if request.method == "POST":
        try:
            services.invitation_accept(token=token, user=user)
        except ApplicationError as error:
            if error.code.startswith("invitation_"):
                return _link_problem(request, error)
            error_message = error.message
        else:
            messages.success(
                request, _("You joined %(practice)s. Choose it below.") % {"practice": invitation.practice.name}
            )
            return HttpResponseRedirect(public_url("/practices/"))
    return render(
        request,
        "invitations/accept_existing.html",
        _context(invitation, error_message=error_message),
        status=409 if error_message else 200,
    )


def _accept_by_signup(request: HttpRequest, invitation: Invitation, token: str) -> HttpResponse:
    login_url = public_url("/login/") + "?next=" + public_url(request.path)
    if User.objects.filter(email=invitation.email).exists():
        # The invited email has an account: log in with it and come back to accept.
        return render(request, "invitations/accept_login.html", _context(invitation, login_url=login_url))
    form = AcceptSignupForm(request.POST or None, initial={"email": invitation.email})
    if request.method == "POST" and form.is_valid():
        try:
            result = services.invitation_accept_signup(
                token=token,
                password=form.cleaned_data["password"],
                full_name=form.cleaned_data["full_name"],
                practice_name=form.cleaned_data["practice_name"],
                practice_slug=form.cleaned_data["practice_slug"],
                signup_ip=client_ip(request),
            )
        except ApplicationError as error:
            if error.code.startswith("invitation_"):
                return _link_problem(request, error)
            form_errors_apply(form, error.fields, error.message)
        else:
            login(request, result.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                _("Welcome to your own practice! You also joined %(practice)s: see My practices.")
                % {"practice": invitation.practice.name},
            )
            return HttpResponseRedirect(practice_url(result.practice))
    return render(
        request,
        "invitations/accept_signup.html",
        _context(invitation, form=form, login_url=login_url),
        status=400 if form.errors else 200,
    )
