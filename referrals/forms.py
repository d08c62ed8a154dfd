from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class ReferralSettingsForm(forms.Form):
    links_grant_guest_access = forms.BooleanField(
        required=False,
        label=_("Referral links grant guest access at once"),
        help_text=_("Guests see no patient data unless you widen their role. Off: you approve each request."),
    )


class ApproveForm(forms.Form):
    action = forms.ChoiceField(choices=[("approve", _("Approve")), ("decline", _("Decline"))])
    role = forms.CharField(required=False)
