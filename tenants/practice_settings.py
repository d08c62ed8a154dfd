"""The practice's own settings page (owners only): today its time zone, in which appointment
times are shown and entered on the practice's pages and in its emails."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from dentaltap.errors import ApplicationError
from tenants.access import current_practice
from tenants.models import MembershipStatus, Practice, Role, User, time_zone_names, validate_time_zone
from tenants.team.audit import RequestMeta, practice_setting_change_record

TIME_ZONE_SETTING = "time_zone"


class PracticeSettingsForm(forms.Form):
    time_zone = forms.CharField(
        label=gettext_lazy("Time zone"),
        max_length=64,
        help_text=gettext_lazy("Appointment times are shown and entered in this time zone, e.g. Europe/Berlin."),
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"}),
    )


def practice_time_zone_set(
    *, practice: Practice, by: User, time_zone: str, meta: RequestMeta | None = None
) -> Practice:
    """Change the practice's time zone (an IANA name), owners only; audited on the access log."""
    time_zone = time_zone.strip()
    try:
        validate_time_zone(time_zone)
    except ValidationError as error:
        text = error.messages[0]
        raise ApplicationError(text, code="invalid_time_zone", fields={"time_zone": [text]}) from None
    with transaction.atomic():
        locked = Practice.objects.select_for_update().get(pk=practice.pk)
        is_owner = locked.memberships.filter(user=by, role=Role.OWNER, status=MembershipStatus.ACTIVE).exists()
        if not is_owner:
            raise ApplicationError(
                _("Only an owner can change the practice's settings."), code="permission_denied", status_code=403
            )
        before = locked.time_zone
        locked.time_zone = time_zone
        # save(), not update(): the in-process host cache is cleared by the practice's save signal.
        locked.save(update_fields=["time_zone"])
        practice_setting_change_record(
            practice=locked, actor=by, setting=TIME_ZONE_SETTING, before=before, after=time_zone, meta=meta
        )
    practice.time_zone = time_zone
    return practice


@require_http_methods(["GET", "POST"])
def practice_settings(request: HttpRequest) -> HttpResponse:
    practice = current_practice(request)
    membership = getattr(request, "membership", None)
    if membership is None or membership.role != Role.OWNER:
        return render(
            request,
            "tenants/forbidden.html",
            {"permission_label": Role.OWNER.label},
            status=403,
        )
    form = PracticeSettingsForm(request.POST or None, initial={"time_zone": practice.time_zone})
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            practice_time_zone_set(
                practice=practice,
                by=request.user,  # type: ignore[arg-type]
                time_zone=form.cleaned_data["time_zone"],
                meta=RequestMeta.from_request(request),
            )
        except ApplicationError as error:
            for text in error.fields.get("time_zone", [error.message]):
                form.add_error("time_zone", text)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("practice-settings")
    if form.errors:
        status = 400
    return render(
        request,
        "tenants/practice_settings.html",
        {"form": form, "time_zones": sorted(time_zone_names())},
        status=status,
    )
