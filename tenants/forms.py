from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class SignupForm(forms.Form):
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


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autofocus": True}))

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()
