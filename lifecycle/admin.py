from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from lifecycle.models import LifecycleMessage, LifecycleStep, LifecycleStepText, LifecycleUnsubscribe
from lifecycle.texts import VARIABLES, render_text, template_check


class LifecycleStepTextForm(forms.ModelForm):
    """A broken text is refused here, at save time, never at send time."""

    class Meta:
        model = LifecycleStepText
        fields = ("language", "subject", "body")
        help_texts = {"body": _("Django template text. Variables: %(names)s.") % {"names": ", ".join(VARIABLES)}}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for field in ("subject", "body"):
            if data.get(field):
                try:
                    template_check(data[field], field=field)
                except forms.ValidationError as error:
                    self.add_error(None, error)
        return data


class LifecycleStepTextInline(admin.StackedInline):
    model = LifecycleStepText
    form = LifecycleStepTextForm
    extra = 0
    min_num = 1


@admin.register(LifecycleStep)
class LifecycleStepAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "is_active", "trigger_milestone", "delay_hours", "awaited_milestone", "preview")
    list_filter = ("is_active", "trigger_milestone")
    inlines = (LifecycleStepTextInline,)
    readonly_fields = ("preview",)

    @admin.display(description=_("preview"))
    def preview(self, obj: LifecycleStep) -> str:
        if not obj.pk:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:lifecycle_lifecyclestep_preview", args=[obj.pk]), _("Preview")
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:step_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="lifecycle_lifecyclestep_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, step_id: int) -> HttpResponse:
        step = get_object_or_404(LifecycleStep, pk=step_id)
        previews = [
            {
                "language": dict(settings.LANGUAGES).get(text.language, text.language),
                "subject": render_text(text.subject, VARIABLES),
                "body": render_text(text.body, VARIABLES),
            }
            for text in step.texts.all()
        ]
        context = {**self.admin_site.each_context(request), "step": step, "previews": previews, "title": step.name}
        return TemplateResponse(request, "lifecycle/admin_preview.html", context)


@admin.register(LifecycleMessage)
class LifecycleMessageAdmin(admin.ModelAdmin):
    list_display = ("step", "practice", "recipient", "status", "due_at", "sent_at", "attempts", "note")
    list_filter = ("status", "step")
    search_fields = ("practice__slug", "recipient__email")
    list_select_related = ("step", "practice", "recipient")
    readonly_fields = ("practice", "step", "recipient", "created_at", "sent_at", "attempts", "language", "note")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(LifecycleUnsubscribe)
class LifecycleUnsubscribeAdmin(admin.ModelAdmin):
    list_display = ("user", "created_at")
    search_fields = ("user__email",)
    raw_id_fields = ("user",)
