from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dentaltap import formatting
from tenants.models import PermissionCode, Role


class MemberAccessForm(forms.Form):
    """A member's access as the viewer may change it: only the roles they may give; the
    permissions they may not give are shown but locked (and keep their current state)."""

    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    permissions = forms.MultipleChoiceField(
        label=_("What they can do"),
        choices=PermissionCode.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Starts from the role; tick or untick single permissions on top of it."),
    )
    expires_on = forms.DateField(
        label=_("Access until (inclusive)"),
        required=False,
        widget=formatting.date_input(),
        help_text=_("Leave empty for lasting access. For a visiting specialist, pick their last day."),
    )

    def __init__(
        self,
        *args: Any,
        role_choices: tuple[str, ...] | None = None,
        can_set_expiry: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if role_choices is not None:
            role_field = self.fields["role"]
            assert isinstance(role_field, forms.ChoiceField)  # noqa: S101
            role_field.choices = [(value, label) for value, label in Role.choices if value in role_choices]
        if not can_set_expiry:
            del self.fields["expires_on"]

    def clean_expires_on(self) -> datetime.date | None:
        value: datetime.date | None = self.cleaned_data.get("expires_on")
        if value is not None and value < timezone.localdate():
            raise forms.ValidationError(_("The access expiry must be in the future."))
        return value

    def expires_at(self) -> datetime.datetime | None:
        """Access lasts through the chosen day: it ends at the start of the next one."""
        if "expires_on" not in self.fields:
            return None
        value = self.cleaned_data.get("expires_on")
        if value is None:
            return None
        return timezone.make_aware(datetime.datetime.combine(value + datetime.timedelta(days=1), datetime.time()))

    def clean(self) -> dict[str, Any]:
        return super().clean() or {}
