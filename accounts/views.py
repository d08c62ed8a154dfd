"""The doors, as pages on the base domain: signup (plain, from a referral link, from an
invitation), login, logout and password reset. Each reads its form, calls one service and
renders; every signup goes through accounts.services.account_signup."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.doors import signup_request_arguments
from accounts.forms import (
    EmailAuthenticationForm,
    InvitationSignupForm,
    PasswordResetRequestForm,
    PasswordResetSetForm,
    ReferralSignupForm,
    SignupForm,
)
from accounts.services import SignupResult, account_signup
from dentaltap import login_protection
from dentaltap.errors import ApplicationError
from dentaltap.forms import form_errors_add
from dentaltap.ratelimit import client_ip, rate_limited
from invitations import services as invitation_services
from invitations.models import Invitation
from referrals import attribution
from referrals import selectors as referral_selectors
from referrals import services as referral_services
from tenants import password_reset
from tenants.models import User
from tenants.urls_helpers import is_own_url, practice_url, public_url


def _signed_up(request: HttpRequest, result: SignupResult) -> HttpResponse:
    login(request, result.user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponseRedirect(practice_url(result.practice))


# --------------------------------------------------------------------------- plain signup


@require_http_methods(["GET", "POST"])
@rate_limited("signup", field="email")
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            # Credited to the referrer whose link this browser opened first (if any, in the window).
            result = account_signup(**form.cleaned_data, **signup_request_arguments(request))
        except ApplicationError as error:
            form_errors_add(form, error)
        else:
            return _signed_up(request, result)
    return render(request, "tenants/signup.html", {"form": form}, status=400 if form.errors else 200)


# --------------------------------------------------------------------------- from a referral link


@require_http_methods(["GET", "POST"])
@rate_limited("signup", field="email")
def referral_landing(request: HttpRequest, code: str) -> HttpResponse:
    """`/r/<code>`: record the visit, remember the first referrer, show a signup naming them."""
    referral_code = referral_selectors.referral_code_find(code)
    if referral_code is None:
        return HttpResponseRedirect("/signup/")  # the normal signup, without attribution
    referrer: User = referral_code.user
    access_practice = referral_selectors.referrer_home_practice(user=referrer)
    form = ReferralSignupForm(
        request.POST or None, access_practice_name=access_practice.name if access_practice else None
    )

    if request.method == "POST" and not request.user.is_authenticated and form.is_valid():
        data = dict(form.cleaned_data)
        request_access = bool(data.pop("request_access", False))
        try:
            result = account_signup(
                **data,
                referral_link_code=referral_code.code,
                request_access=request_access,
                **signup_request_arguments(request, referral_code=referral_code.code),
            )
        except ApplicationError as error:
            form_errors_add(form, error)
        else:
            if result.access_request is not None and result.access_practice is not None:
                messages.info(
                    request,
                    _("Welcome! Your request to join %(practice)s was sent to its owner.")
                    % {"practice": result.access_practice.name},
                )
            elif result.guest_membership is not None and result.access_practice is not None:
                messages.info(
                    request,
                    _("Welcome! You are also a guest of %(practice)s: find it under My practices.")
                    % {"practice": result.access_practice.name},
                )
            return _signed_up(request, result)

    context = {"referrer": referrer, "access_practice": access_practice, "form": form}
    response = render(request, "referrals/landing.html", context, status=400 if form.errors else 200)
    if request.method == "GET":
        address = client_ip(request)
        referral_services.referral_visit_record(
            referral_code=referral_code,
            referer=request.META.get("HTTP_REFERER", ""),
            ip_address=address if address != "unknown" else None,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            landing_path=request.get_full_path(),
        )
        attribution.attribution_set(request, response, referral_code.code)
    return response


# --------------------------------------------------------------------------- from an invitation


@require_http_methods(["GET", "POST"])
@rate_limited("invitation_accept")
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the invitation; only a POST accepts it (the token is consumed once): a
    logged-in user with the invited email joins, a newcomer signs up."""
    try:
        invitation = invitation_services.invitation_get_usable(token=token)
    except ApplicationError as error:
        return _link_problem(request, error)

    if request.user.is_authenticated:
        return _accept_as_logged_in(request, invitation, token)
    return _accept_by_signup(request, invitation, token)


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
        error = invitation_services.email_mismatch_error(invited=invitation.email, current=user.email)
        return render(
            request,
            "invitations/accept_wrong_user.html",
            _context(invitation, message=error.message, current_email=user.email),
            status=403,
        )
    error_message = ""
    if request.method == "POST":
        try:
            invitation_services.invitation_accept(token=token, user=user)
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
    form = InvitationSignupForm(request.POST or None, initial={"email": invitation.email})
    if request.method == "POST" and form.is_valid():
        try:
            result = account_signup(
                **{**form.cleaned_data, "email": invitation.email},
                invitation_token=token,
                **signup_request_arguments(request),
            )
        except ApplicationError as error:
            if error.code.startswith("invitation_"):
                return _link_problem(request, error)
            form_errors_add(form, error)
        else:
            messages.success(
                request,
                _("Welcome to your own practice! You also joined %(practice)s: see My practices.")
                % {"practice": invitation.practice.name},
            )
            return _signed_up(request, result)
    return render(
        request,
        "invitations/accept_signup.html",
        _context(invitation, form=form, login_url=login_url),
        status=400 if form.errors else 200,
    )


# --------------------------------------------------------------------------- login, logout, password reset


class LoginView(auth_views.LoginView):
    template_name = "tenants/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def get_redirect_url(self, request: HttpRequest | None = None) -> str:
        # `next` may name a practice subdomain; Django's check only knows the current host.
        next_url = self.request.POST.get("next", self.request.GET.get("next", ""))
        return next_url if next_url and is_own_url(next_url) else ""

    def form_invalid(self, form: EmailAuthenticationForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_invalid(form)
        if form.is_locked_out:
            # The pause is a form error on this page; the lockout middleware keeps this answer.
            response.status_code = 429
            response["Retry-After"] = str(
                login_protection.lockout_retry_after(self.request, {"username": form.cleaned_data.get("username")})
            )
            response.shows_login_lockout = True  # type: ignore[attr-defined]
        return response


class LogoutView(auth_views.LogoutView):
    pass


@method_decorator(rate_limited("password_reset", field="email"), name="dispatch")
class PasswordResetView(auth_views.PasswordResetView):
    """Asks for the address; answers the same for every address (see tenants.password_reset)."""

    template_name = "tenants/password_reset_form.html"
    form_class = PasswordResetRequestForm  # type: ignore[assignment]
    success_url = reverse_lazy("password-reset-done")

    def form_valid(self, form: PasswordResetRequestForm) -> HttpResponse:  # type: ignore[override]
        password_reset.password_reset_request(email=form.cleaned_data["email"])
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form: PasswordResetRequestForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_invalid(form)  # type: ignore[arg-type]
        response.status_code = 400
        return response


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "tenants/password_reset_done.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "valid_minutes": settings.PASSWORD_RESET_TIMEOUT // 60}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The emailed link: a form for the new password, or a page saying the link does not work
    (400: forged, used, expired or cut short)."""

    template_name = "tenants/password_reset_confirm.html"
    form_class = PasswordResetSetForm
    success_url = reverse_lazy("password-reset-complete")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "valid_minutes": settings.PASSWORD_RESET_TIMEOUT // 60}

    def render_to_response(self, context: dict[str, Any], **response_kwargs: Any) -> HttpResponse:
        if not self.validlink or (context.get("form") is not None and context["form"].errors):
            response_kwargs.setdefault("status", 400)
        return super().render_to_response(context, **response_kwargs)


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "tenants/password_reset_complete.html"
