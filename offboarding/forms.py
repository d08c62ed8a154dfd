from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        help_text=_("Why, for the log: the ticket, the request, who asked."),
    )


class DeleteForm(ReasonForm):
    confirm_slug = forms.CharField(label=_("Type the practice's address to confirm"), max_length=40)


class RestoreForm(ReasonForm):
    archive = forms.FileField(label=_("Archive (.zip)"))
    slug = forms.CharField(label=_("New address"), max_length=40)
    name = forms.CharField(label=_("New name (default: the archive's)"), max_length=120, required=False)
