"""The reward catalogue page (base domain, any logged-in user): the user's points, what each
item costs and whether they can afford it, and one button per item that redeems it.

Every render gives each item's form a fresh idempotency key (hidden): a double click, a resent
form or a reload after a lost answer carries the same key and returns the first redemption
(`points.redemption_create`), never a second one. A refusal (balance, stock, expiry, an item
gone) is a form error saying which, with a 400; nothing is written then."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from dentaltap.errors import ApplicationError
from dentaltap.translated import translated
from rewards import dashboard_programs, points
from rewards.models import CatalogueItem, Redemption
from tenants.models import User

REDEMPTIONS_SHOWN = 20


class RedemptionForm(forms.Form):
    item = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    idempotency_key = forms.CharField(max_length=100, widget=forms.HiddenInput)


@dataclass(frozen=True)
class CatalogueRow:
    item: CatalogueItem
    affordable: bool
    missing: int
    key: str
    errors: list[str]


def catalogue_rows(*, balance: int, failed: RedemptionForm | None = None) -> list[CatalogueRow]:
    """The catalogue's items with a fresh key each; the refused item keeps its form's errors."""
    failed_item = failed.data.get("item") if failed is not None else None
    rows = []
    for item in points.catalogue_available():
        errors = []
        if failed is not None and str(item.pk) == str(failed_item):
            errors = [str(message) for message in failed.non_field_errors()]
            errors += [str(message) for name in failed.fields for message in failed.errors.get(name, [])]
        rows.append(
            CatalogueRow(
                item=item,
                affordable=item.cost_points <= balance,
                missing=max(item.cost_points - balance, 0),
                key=uuid.uuid4().hex,
                errors=errors,
            )
        )
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def reward_catalogue(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    failed: RedemptionForm | None = None
    status = 200
    if request.method == "POST":
        form = RedemptionForm(request.POST)
        if form.is_valid():
            try:
                redemption = points.redemption_create(
                    user=user, item_id=form.cleaned_data["item"], idempotency_key=form.cleaned_data["idempotency_key"]
                )
            except ApplicationError as error:
                form.add_error(None, error.message)  # names the problem: balance, stock, expiry
            else:
                messages.success(
                    request,
                    ngettext(
                        "Redeemed: %(item)s for %(points)d point. Our team hands it out and lets you know.",
                        "Redeemed: %(item)s for %(points)d points. Our team hands it out and lets you know.",
                        redemption.points,
                    )
                    % {"item": translated(redemption.item), "points": redemption.points},
                )
                return HttpResponseRedirect("/referrals/rewards/")
        failed, status = form, 400
    unmatched = []
    if failed is not None:
        shown = {str(item.pk) for item in points.catalogue_available()}
        if str(failed.data.get("item")) not in shown:  # an item gone, or a forged one
            unmatched = [str(message) for message in failed.non_field_errors()] or [
                _("This reward is not in the catalogue.")
            ]
    panel = dashboard_programs.points_panel(user=user)
    context = {
        "points": panel,
        "rows": catalogue_rows(balance=panel.balance, failed=failed),
        "unmatched_errors": unmatched,
        "redemptions": Redemption.objects.filter(user=user).select_related("item")[:REDEMPTIONS_SHOWN],
    }
    return render(request, "rewards/catalogue.html", context, status=status)
