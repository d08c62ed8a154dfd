"""Pages of the affiliates' revenue share (base domain): for staff (`is_staff` only) every
affiliate's monthly statement and the CSV (payouts are recorded in the admin, the affiliate
ledger); for an affiliate, their own statement (`/referrals/statement/`)."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from rewards import statements
from rewards.staff_views import _csv_stream, staff_required
from tenants.models import User

MAX_MONTHS = 24
PER_PAGE = 100  # affiliates per page of the summary (the CSV has them all)


class StatementFilterForm(forms.Form):
    first_month = forms.DateField(
        label=gettext_lazy("First month"),
        input_formats=["%Y-%m"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
    )
    months = forms.IntegerField(label=gettext_lazy("Months"), min_value=1, max_value=MAX_MONTHS)
    affiliate = forms.EmailField(label=gettext_lazy("Affiliate (email)"), required=False)

    def clean_affiliate(self) -> User | None:
        email = self.cleaned_data.get("affiliate")
        if not email:
            return None
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise forms.ValidationError(_("No user has this email address."))
        return user


def _default_query() -> dict[str, Any]:
    this_month = timezone.now().astimezone(datetime.UTC).date().replace(day=1)
    first = this_month.replace(year=this_month.year - 1) + datetime.timedelta(days=32)
    return {"first_month": first.replace(day=1).strftime("%Y-%m"), "months": 12}


def _filtered(request: HttpRequest) -> tuple[StatementFilterForm, list[statements.AffiliateStatement] | None]:
    form = StatementFilterForm(request.GET if "first_month" in request.GET else _default_query())
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    affiliate = data["affiliate"]
    return form, statements.affiliate_statements(
        first_month=data["first_month"],
        months=data["months"],
        affiliate_id=affiliate.pk if affiliate is not None else None,
    )


@require_GET
@staff_required
def staff_affiliate_statements(request: HttpRequest) -> HttpResponse:
    form, found = _filtered(request)
    if found is None:
        return render(request, "rewards/staff_statements.html", {"form": form, "statements": None}, status=400)
    query = urlencode({name: form.data.get(name) or "" for name in ("first_month", "months", "affiliate")})
    page = Paginator(found, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "statements": page.object_list,
        "page": page,
        "detailed": form.cleaned_data["affiliate"] is not None,
        "query": query,
    }
    return render(request, "rewards/staff_statements.html", context)


@require_GET
@staff_required
def staff_affiliate_statements_csv(request: HttpRequest) -> HttpResponseBase:
    form, found = _filtered(request)
    if found is None:
        message = " ".join(str(error) for errors in form.errors.values() for error in errors)
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    rows = iter([statements.STATEMENT_COLUMNS, *statements.statement_rows(found)])
    response = StreamingHttpResponse(_csv_stream(rows), content_type="text/csv")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="dentaltap-affiliate-statements-{stamp}.csv"'
    return response


@login_required
@require_GET
def affiliate_statement(request: HttpRequest) -> HttpResponse:
    """An affiliate's own statement, the last 12 months: only ever the logged-in user's."""
    user: User = request.user  # type: ignore[assignment]
    query = _default_query()
    first_month = datetime.datetime.strptime(query["first_month"], "%Y-%m").date()
    found = statements.affiliate_statements(first_month=first_month, months=query["months"], affiliate_id=user.pk)
    return render(request, "rewards/affiliate_statement.html", {"statements": found})
