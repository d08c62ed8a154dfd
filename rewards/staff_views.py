"""Staff-only referral analytics (base domain): the page, fraud review actions, CSV exports.

Not for practice owners: only DentalTap staff (`is_staff`). Anonymous visitors are sent to the
admin login; a logged-in user who is not staff gets a 403."""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable, Iterator
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from dentaltap.errors import ApplicationError
from referrals import services
from rewards import analytics, exports
from rewards.analytics import AnalyticsFilterForm, DateRange


def staff_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), "/admin/login/")
        if not (request.user.is_active and request.user.is_staff):
            return render(request, "403.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            (services.ReviewDecision.APPROVE, gettext_lazy("Approve")),
            (services.ReviewDecision.REJECT, gettext_lazy("Reject")),
        ]
    )
    note = forms.CharField(required=False, max_length=200)


def _range_from(request: HttpRequest) -> tuple[AnalyticsFilterForm, DateRange | None]:
    form = AnalyticsFilterForm(request.GET or None)
    if not request.GET:
        return form, analytics.default_range()
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    return form, DateRange(start=data["start"], end=data["end"], cohort=data["cohort"])


@require_GET
@staff_required
def staff_referral_analytics(request: HttpRequest) -> HttpResponse:
    form, period_range = _range_from(request)
    if period_range is None:
        context: dict[str, Any] = {"form": form, "figures": None, "queue": analytics.review_queue()}
        return render(request, "rewards/staff_analytics.html", context, status=400)
    if not request.GET:
        form = AnalyticsFilterForm(
            initial={"start": period_range.start, "end": period_range.end, "cohort": period_range.cohort}
        )
    figures = analytics.analytics_build(period_range=period_range)
    query = urlencode(
        {"start": period_range.start.isoformat(), "end": period_range.end.isoformat(), "cohort": period_range.cohort}
    )
    context = {
        "form": form,
        "figures": figures,
        "channel_share": analytics.periods_with_data(figures.channel_share, analytics.FIGURE_KEYS["channel_share"]),
        "cohorts": analytics.periods_with_data(figures.cohorts, analytics.FIGURE_KEYS["cohorts"]),
        "economics": figures.economics,
        "breakdowns": [(key, title, figures.breakdowns.get(key, [])) for key, title in analytics.BREAKDOWNS.items()],
        "queue": analytics.review_queue(),
        "query": query,
    }
    return render(request, "rewards/staff_analytics.html", context)


@require_POST
@staff_required
def staff_referral_review(request: HttpRequest, referral_id: int) -> HttpResponse:
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose approve or reject."))
    else:
        try:
            referral = services.referral_review_decide(
                referral_id=referral_id,
                decision=form.cleaned_data["decision"],
                actor=request.user,  # type: ignore[arg-type]
                note=form.cleaned_data["note"],
            )
        except ApplicationError as error:
            if error.status_code == 404:
                return render(request, "404.html", status=404)
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("Referral %(id)s: %(eligibility)s.")
                % {"id": referral.pk, "eligibility": referral.get_eligibility_display()},
            )
    return HttpResponseRedirect("/staff/referrals/#review")


class _Echo:
    """csv.writer needs a file; this one hands each line back instead of keeping it."""

    def write(self, value: str) -> str:
        return value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """Names and notes are typed by users: never let a spreadsheet run one as a formula."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_stream(rows: Iterator[tuple[Any, ...]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([_cell(value) for value in row])


def _export(request: HttpRequest, name: str, rows: Callable[..., Iterator[tuple[Any, ...]]]) -> HttpResponseBase:
    form, period_range = _range_from(request)
    if period_range is None:
        message = " ".join(str(error) for errors in form.errors.values() for error in errors)
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(_csv_stream(rows(period_range=period_range)), content_type="text/csv")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="dentaltap-{name}-{stamp}.csv"'
    return response


@require_GET
@staff_required
def staff_referral_export(request: HttpRequest) -> HttpResponseBase:
    return _export(request, "referrals", exports.referral_export_rows)


@require_GET
@staff_required
def staff_reward_export(request: HttpRequest) -> HttpResponseBase:
    return _export(request, "rewards", exports.reward_export_rows)
