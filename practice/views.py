"""Practice workspace pages. The access middleware has already required an active membership;
each view names the permission it needs on top."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from dentaltap.errors import ApplicationError
from dentaltap.forms import form_errors_add
from onboarding.checklist import checklist_for
from practice import selectors, services
from practice.forms import AppointmentForm, PatientForm
from practice.models import Appointment, Patient
from tenants.access import Permission, current_practice, membership_has_permission, permission_required


def _saved(form: forms.BaseForm, service: Callable[..., object], **arguments: Any) -> bool:
    """Run the service; an expected failure (a plan limit, a rule) becomes a form error."""
    try:
        service(**arguments)
    except ApplicationError as error:
        form_errors_add(form, error)
        return False
    return True


def _can(request: HttpRequest, permission: str) -> bool:
    return membership_has_permission(getattr(request, "membership", None), permission)


def dashboard(request: HttpRequest) -> HttpResponse:
    context = {
        "patient_count": selectors.patient_count() if _can(request, Permission.VIEW_PATIENTS) else None,
        "upcoming": (
            Appointment.objects.select_related("patient").filter(starts_at__gte=timezone.now())[:5]
            if _can(request, Permission.VIEW_SCHEDULE)
            else None
        ),
        "checklist": checklist_for(practice=current_practice(request), membership=getattr(request, "membership", None)),
    }
    return render(request, "practice/dashboard.html", context)


@permission_required(Permission.VIEW_PATIENTS)
def patient_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    patients = Patient.objects.all()
    if query:
        patients = patients.filter(
            Q(first_name__icontains=query) | Q(last_name__icontains=query) | Q(email__icontains=query)
        )
    page = Paginator(patients, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "practice/patient_list.html",
        {"page": page, "query": query, "can_edit": _can(request, Permission.EDIT_PATIENTS)},
    )


def _form_page(
    request: HttpRequest, form: forms.BaseForm, service: Callable[..., object], title: str, back: str, **arguments: Any
) -> HttpResponse:
    """The create/edit page pattern: validate, call the service with the practice, go back to the
    list; otherwise show the form with its errors (400)."""
    saved = request.method == "POST" and form.is_valid()
    if saved and _saved(form, service, practice=current_practice(request), **arguments, **form.cleaned_data):
        return redirect(back)
    return render(
        request, "practice/form.html", {"form": form, "title": title, "back": back}, status=400 if form.errors else 200
    )


@require_http_methods(["GET", "POST"])
@permission_required(Permission.EDIT_PATIENTS)
def patient_create(request: HttpRequest) -> HttpResponse:
    form = PatientForm(request.POST or None)
    return _form_page(request, form, services.patient_create, _("New patient"), "patient-list")


@require_http_methods(["GET", "POST"])
@permission_required(Permission.EDIT_PATIENTS)
def patient_edit(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=patient_id)
    form = PatientForm(request.POST or None, instance=patient)
    title = _("Edit %(patient)s") % {"patient": patient}
    return _form_page(request, form, services.patient_update, title, "patient-list", patient=patient)


@permission_required(Permission.VIEW_SCHEDULE)
def appointment_list(request: HttpRequest) -> HttpResponse:
    appointments = Appointment.objects.select_related("patient")
    if request.GET.get("show") != "all":
        appointments = appointments.filter(starts_at__gte=timezone.now() - datetime.timedelta(days=1))
    page = Paginator(appointments, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "practice/appointment_list.html",
        {
            "page": page,
            "can_edit": _can(request, Permission.MANAGE_SCHEDULE),
            "show_all": request.GET.get("show") == "all",
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required(Permission.MANAGE_SCHEDULE)
def appointment_create(request: HttpRequest) -> HttpResponse:
    form = AppointmentForm(request.POST or None)
    return _form_page(request, form, services.appointment_create, _("New appointment"), "appointment-list")


@require_http_methods(["GET", "POST"])
@permission_required(Permission.MANAGE_SCHEDULE)
def appointment_edit(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = get_object_or_404(Appointment, pk=appointment_id)
    form = AppointmentForm(request.POST or None, instance=appointment)
    title = _("Edit appointment")
    return _form_page(request, form, services.appointment_update, title, "appointment-list", appointment=appointment)
