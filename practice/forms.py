from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dentaltap import formatting
from practice.models import Appointment, Patient


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = ("first_name", "last_name", "date_of_birth", "email", "phone", "notes")
        widgets = {"date_of_birth": formatting.date_input(), "notes": forms.Textarea(attrs={"rows": 3})}


class AppointmentForm(forms.ModelForm):
    class Meta:
        model = Appointment
        fields = ("patient", "starts_at", "ends_at", "reason", "status", "notes")
        widgets = {
            "starts_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        starts_at, ends_at = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", _("The end must be after the start."))
        return cleaned

    def validate_constraints(self) -> None:
        # The end-after-start rule is reported on its field by clean(); other constraints stay.
        if "ends_at" not in self.errors:
            super().validate_constraints()
