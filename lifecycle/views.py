"""Base-domain pages: one-click unsubscribe from lifecycle emails, and the staff cohort page."""

from __future__ import annotations

import csv
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from lifecycle import cohorts, services
from rewards.analytics import AnalyticsFilterForm, DateRange, default_range
from rewards.staff_views import staff_required


# Mail clients send the RFC 8058 one-click POST without a CSRF token or cookie; the signed,
# per-recipient token is what authorises it, and it can only unsubscribe that recipient.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    user = services.unsubscribe_user_for(token=token)
    if user is None:
        context = {"invalid": True}
        return render(request, "lifecycle/unsubscribe.html", context, status=400)
    if request.method == "POST":  # a GET (a link scanner, a preview) never unsubscribes
        services.lifecycle_unsubscribe(user=user)
        return render(request, "lifecycle/unsubscribe.html", {"done": True, "email": user.email})
    return render(request, "lifecycle/unsubscribe.html", {"email": user.email})


def _range(request: HttpRequest) -> tuple[AnalyticsFilterForm, DateRange | None]:
    if not request.GET:
        initial = default_range()
        form = AnalyticsFilterForm(initial={"start": initial.start, "end": initial.end, "cohort": initial.cohort})
        return form, initial
    form = AnalyticsFilterForm(request.GET)
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    return form, DateRange(start=data["start"], end=data["end"], cohort=data["cohort"] or "month")


@require_GET
@staff_required
def staff_cohorts(request: HttpRequest) -> HttpResponse:
    form, period_range = _range(request)
    context: dict[str, Any] = {"form": form, "rows": None}
    if period_range is None:
        return render(request, "lifecycle/staff_cohorts.html", context, status=400)
    context.update(
        rows=cohorts.cohorts_build(period_range=period_range),
        period_range=period_range,
        days=cohorts.DAYS,
        milestone_columns=[
            (key, label) for key, label in cohorts.MilestoneKey.choices if key in cohorts.MILESTONE_COLUMNS
        ],
        query=request.GET.urlencode(),
    )
    return render(request, "lifecycle/staff_cohorts.html", context)


@require_GET
@staff_required
def staff_cohorts_export(request: HttpRequest) -> HttpResponse:
    form, period_range = _range(request)
    if period_range is None:
        return HttpResponse(
            _("Invalid range: %(errors)s") % {"errors": form.errors.as_text()}, status=400, content_type="text/plain"
        )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="onboarding-cohorts.csv"'
    csv.writer(response).writerows(cohorts.cohort_csv_rows(cohorts.cohorts_build(period_range=period_range)))
    return response
