from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from billing.limits import Seats, is_practitioner_role


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
    language = forms.ChoiceField(
        label=_("Language of the email"),
        choices=settings.LANGUAGES,
        required=False,  # left out: the inviter's language
        help_text=_("For addresses without a DentalTap account; people who have one get it in their own language."),
    )

    def __init__(
        self,
        *args: Any,
        role_choices: list[tuple[str, str]],
        initial_role: str,
        initial_language: str,
        seats: Seats | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].initial = initial_language
        role_field = self.fields["role"]
        assert isinstance(role_field, forms.ChoiceField)  # noqa: S101
        role_field.choices = [(value, _role_label(value, label, seats)) for value, label in role_choices]
        role_field.initial = initial_role
        if seats is not None:
            role_field.help_text = seats_text(seats)


def seats_text(seats: Seats) -> str:
    """How many practitioner seats the plan has left, said where the inviter picks a role."""
    if seats.left == 0:
        return ngettext(
            "Owners and dentists take a practitioner seat: all %(limit)d of the %(plan)s plan is taken. "
            "An invitee with such a role cannot join until you upgrade on the Billing page.",
            "Owners and dentists take a practitioner seat: all %(limit)d of the %(plan)s plan are taken. "
            "An invitee with such a role cannot join until you upgrade on the Billing page.",
            seats.limit,
        ) % {"limit": seats.limit, "plan": seats.plan_name}
    return ngettext(
        "Owners and dentists take a practitioner seat: %(left)d of %(limit)d left on the %(plan)s plan.",
        "Owners and dentists take a practitioner seat: %(left)d of %(limit)d left on the %(plan)s plan.",
        seats.left,
    ) % {"left": seats.left, "limit": seats.limit, "plan": seats.plan_name}


def _role_label(value: str, label: str, seats: Seats | None) -> str:
    if seats is None or not is_practitioner_role(value):
        return label
    if seats.left == 0:
        return str(_("%(role)s (no seat left on your plan)")) % {"role": label}
    return ngettext("%(role)s (%(left)d seat left)", "%(role)s (%(left)d seats left)", seats.left) % {
        "role": label,
        "left": seats.left,
    }
