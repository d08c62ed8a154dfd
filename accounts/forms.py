"""The forms of the doors: one signup form base (each door adds or fixes a field), login and
password reset."""

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from dentaltap import login_protection
from tenants import password_reset


class SignupForm(forms.Form):
    """What every signup asks: the person, their password and their own practice. The doors'
    forms below change only what their door adds; the checks are the signup service's."""

    full_name = forms.CharField(label=_("Your name"), max_length=150)
    email = forms.EmailField(label=_("Email"))
    password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput,
        strip=False,
        help_text=_("At least 10 characters, not a common password."),
    )
    practice_name = forms.CharField(label=_("Practice name"), max_length=120)
    practice_slug = forms.CharField(
        label=_("Practice address"),
        max_length=40,
        required=False,
        help_text=_("Letters, digits and hyphens. Leave empty to derive it from the name."),
    )
    partner_code = forms.CharField(
        label=_("Partner code (optional)"),
        max_length=40,
        required=False,
        help_text=_(
            "From a DentalTap partner, such as your dental supplier: it gives a longer trial or a discount "
            "at checkout. If a colleague's referral link or invitation brought you, they stay your referrer."
        ),
    )


class ReferralSignupForm(SignupForm):
    """From a referral link: optionally also ask for access to the referrer's practice."""

    request_access = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args: Any, access_practice_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if access_practice_name:
            self.fields["request_access"].label = _("Also ask for access to %(practice)s") % {
                "practice": access_practice_name
            }
            self.fields["request_access"].help_text = _(
                "The practice owner decides. Untick to keep just your own practice."
            )
        else:
            del self.fields["request_access"]


class InvitationSignupForm(SignupForm):
    """From an invitation: the email is the invited one and cannot be changed."""

    email = forms.EmailField(label=_("Email"), disabled=True, required=False)
    practice_name = forms.CharField(
        label=_("Your own practice's name"),
        max_length=120,
        help_text=_("Everyone gets a free practice of their own, beside the one you are invited to."),
    )

    field_order = ("email", "full_name", "password", "practice_name", "practice_slug", "partner_code")


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autofocus": True}))

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()

    @property
    def is_locked_out(self) -> bool:
        """True when django-axes refused this login: too many failures (see dentaltap.login_protection)."""
        return bool(getattr(self.request, "axes_locked_out", False))

    def get_invalid_login_error(self) -> ValidationError:
        if self.request is not None and self.is_locked_out:
            credentials = {"username": self.cleaned_data.get("username")}
            return ValidationError(login_protection.lockout_message(self.request, credentials), code="locked_out")
        return super().get_invalid_login_error()


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class PasswordResetSetForm(SetPasswordForm):
    """Django's new-password form (the password validators apply); saving goes through the reset
    service, which also ends other sessions' access, API tokens and login pauses."""

    def save(self, commit: bool = True) -> Any:
        return password_reset.password_reset_complete(user=self.user, password=self.cleaned_data["new_password1"])
