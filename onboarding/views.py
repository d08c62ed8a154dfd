"""The checklist's one action on a practice host: the owner hides it."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dentaltap.errors import ApplicationError
from onboarding.services import checklist_hide
from tenants.access import current_practice


@require_POST
def checklist_hide_view(request: HttpRequest) -> HttpResponse:
    try:
        checklist_hide(practice=current_practice(request), membership=getattr(request, "membership", None))
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("dashboard")
    messages.success(request, _("The getting-started checklist is hidden."))
    return redirect("dashboard")
