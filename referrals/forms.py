from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tenants.forms import SignupForm


class ReferralSignupForm(SignupForm):
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


class ReferralSettingsForm(forms.Form):
    links_grant_guest_access = forms.BooleanField(
        required=False,
        label=_("Referral links grant guest access at once"),
        help_text=_("Guests see no patient data unless you widen their role. Off: you approve each request."),
    )


class ApproveForm(forms.Form):
    action = forms.ChoiceField(choices=[("approve", _("Approve")), ("decline", _("Decline"))])
    role = forms.CharField(required=False)
