"""Browser pages on the base domain: landing, signup, login, logout, the practice switcher."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from dentaltap import login_protection
from dentaltap.errors import ApplicationError
from dentaltap.ratelimit import client_ip, rate_limited
from referrals import attribution as referral_attribution
from referrals import services as referral_services
from tenants import selectors
from tenants.forms import EmailAuthenticationForm, SignupForm
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
