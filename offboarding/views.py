"""The staff page for one practice's export, deletion and restore (base domain, staff only).
Every action names a reason and lands in the operation log; the export is a download."""

from __future__ import annotations

import tempfile
from typing import Any

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from dentaltap.errors import ApplicationError
from dentaltap.forms import form_errors_add
from offboarding import services
from offboarding.forms import DeleteForm, ReasonForm, RestoreForm
from offboarding.models import PracticeOperation
from rewards.staff_views import staff_required
from tenants.models import Membership, Practice

PAGE = "/staff/practices/offboarding/"
TEMPLATE = "offboarding/staff_practice.html"


def _practice(slug: str) -> Practice | None:
    slug = (slug or "").strip().lower()
    if not slug:
        return None
    return Practice.objects.exclude(schema_name="public").filter(slug=slug).first()


def _page(request: HttpRequest, practice: Practice | None, status: int = 200, **forms: Any) -> HttpResponse:
    context: dict[str, Any] = {
        "practice": practice,
        "query": request.GET.get("slug", ""),
        "export_form": forms.get("export_form") or ReasonForm(prefix="export"),
        "delete_form": forms.get("delete_form") or DeleteForm(prefix="delete"),
        "restore_form": forms.get("restore_form") or RestoreForm(prefix="restore"),
        "operations": PracticeOperation.objects.select_related("actor")[:20],
    }
    if practice is not None:
        context.update(
            members=Membership.objects.filter(practice=practice).count(),
            refusals=services.practice_delete_refusals(practice=practice),
            tombstone=services.is_tombstone(practice),
        )
    return render(request, TEMPLATE, context, status=status)


@require_GET
@staff_required
def staff_practice(request: HttpRequest) -> HttpResponse:
    practice = _practice(request.GET.get("slug", ""))
    if request.GET.get("slug") and practice is None:
        messages.error(request, _("No practice has the address %(slug)s.") % {"slug": request.GET["slug"]})
    return _page(request, practice)


@require_POST
@staff_required
def staff_practice_export(request: HttpRequest, slug: str) -> HttpResponseBase:
    practice = _practice(slug)
    form = ReasonForm(request.POST, prefix="export")
    if practice is None:
        return _page(request, None, status=404)
    if form.is_valid():
        out = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115 - the response closes it
        try:
            actor = services.Actor.staff(request.user)  # type: ignore[arg-type]
            services.practice_export(practice=practice, actor=actor, reason=form.cleaned_data["reason"], out=out)
        except ApplicationError as error:
            out.close()
            form_errors_add(form, error)
        else:
            name = f"practice-{practice.slug}-{timezone.now():%Y%m%d-%H%M%S}.zip"
            return FileResponse(out, as_attachment=True, filename=name, content_type="application/zip")
    return _page(request, practice, status=400, export_form=form)


@require_POST
@staff_required
def staff_practice_delete(request: HttpRequest, slug: str) -> HttpResponse:
    practice = _practice(slug)
    form = DeleteForm(request.POST, prefix="delete")
    if practice is None:
        return _page(request, None, status=404)
    if form.is_valid():
        if form.cleaned_data["confirm_slug"].strip().lower() != practice.slug:
            form.add_error("confirm_slug", _("Type the address exactly (%(slug)s).") % {"slug": practice.slug})
        else:
            try:
                actor = services.Actor.staff(request.user)  # type: ignore[arg-type]
                services.practice_delete(practice=practice, actor=actor, reason=form.cleaned_data["reason"])
            except ApplicationError as error:
                form_errors_add(form, error)
            else:
                messages.success(request, _("%(slug)s was deleted.") % {"slug": slug})
                return redirect(PAGE)
    return _page(request, practice, status=400, delete_form=form)


@require_POST
@staff_required
def staff_practice_restore(request: HttpRequest) -> HttpResponse:
    form = RestoreForm(request.POST, request.FILES, prefix="restore")
    if form.is_valid():
        try:
            actor = services.Actor.staff(request.user)  # type: ignore[arg-type]
            result = services.practice_restore(
                archive_file=form.cleaned_data["archive"],
                slug=form.cleaned_data["slug"],
                name=form.cleaned_data["name"],
                actor=actor,
                reason=form.cleaned_data["reason"],
            )
        except ApplicationError as error:
            form_errors_add(form, error, field_names={"practice_slug": "slug", "practice_name": "name"})
        else:
            messages.success(request, _("Restored as %(slug)s.") % {"slug": result.practice.slug})
            return redirect(f"{PAGE}?slug={result.practice.slug}")
    return _page(request, None, status=400, restore_form=form)
