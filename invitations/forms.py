from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class InviteForm(forms.Form):
    emails = forms.CharField(
        label=_("Email addresses"),
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "anna@example.com, ivan@example.com"}),
        help_text=_("One or many: paste a list separated by commas, spaces or new lines."),
    )
    role = forms.ChoiceField(label=_("Role"))
    message = forms.CharField(
        label=_("Personal message (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, role_choices: list[tuple[str, str]], initial_role: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        role_field = self.fields["role"]
        assert isinstance(role_field, forms.ChoiceField)  # noqa: S101
        role_field.choices = role_choices
        role_field.initial = initial_role


class AcceptSignupForm(forms.Form):
    """Sign up from an invitation: the email is the invited one and cannot be changed."""

    email = forms.EmailField(label=_("Email"), disabled=True, required=False)
    full_name = forms.CharField(label=_("Your name"), max_length=150)
    password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput,
        strip=False,
        help_text=_("At least 10 characters, not a common password."),
    )
    practice_name = forms.CharField(
        label=_("Your own practice's name"),
        max_length=120,
        help_text=_("Everyone gets a free practice of their own, beside the one you are invited to."),
    )
    practice_slug = forms.CharField(
        label=_("Practice address"),
        max_length=40,
        required=False,
        help_text=_("Letters, digits and hyphens. Leave empty to derive it from the name."),
    )


def form_errors_apply(form: forms.Form, fields: dict[str, list[str]], message: str) -> None:
    """Show a service's ApplicationError beside the fields it names (or on the form)."""
    for field, messages in fields.items():
        for text in messages:
            form.add_error(field if field in form.fields else None, text)
    if not fields:
        form.add_error(None, message)
