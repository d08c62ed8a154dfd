"""Browser pages on the base domain: landing, signup, login, logout, the practice switcher."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods

from dentaltap import login_protection
from dentaltap.errors import ApplicationError
from dentaltap.ratelimit import client_ip, rate_limited
from referrals import attribution as referral_attribution
from referrals import services as referral_services
from tenants import password_reset, selectors
from tenants.forms import EmailAuthenticationForm, PasswordResetRequestForm, PasswordResetSetForm, SignupForm
from tenants.urls_helpers import is_own_url, practice_url


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "tenants/home.html")


@require_http_methods(["GET", "POST"])
@rate_limited("signup", field="email")
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            # Credited to the referrer whose link this browser opened first (if any, in the window).
            user, practice = referral_services.account_signup_attributed(
                attribution_code=referral_attribution.attribution_code(request),
                signup_ip=client_ip(request),
                **form.cleaned_data,
            )
        except ApplicationError as error:
            for field, messages in error.fields.items():
                for message in messages:
                    form.add_error(field if field in form.fields else None, message)
            if not error.fields:
                form.add_error(None, error.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return HttpResponseRedirect(practice_url(practice))
    return render(request, "tenants/signup.html", {"form": form}, status=400 if form.errors else 200)


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


@login_required
def practice_switcher(request: HttpRequest) -> HttpResponse:
    memberships = selectors.memberships_for_switcher(user=request.user)  # type: ignore[arg-type]
    context: dict[str, Any] = {
        "entries": [
            {"membership": membership, "practice": membership.practice, "url": practice_url(membership.practice)}
            for membership in memberships
        ]
    }
    return render(request, "tenants/switcher.html", context)
