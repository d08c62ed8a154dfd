"""Staff admin of outbound webhooks: endpoints (the signing secret shown once, then masked, and
rotated with a grace period), the events in the outbox, and the delivery log with its attempts
and a "resend" action."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from dentaltap.errors import ApplicationError
from dentaltap.forms import form_errors_add
from integrations import delivery, signing
from integrations.models import EventType, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("events"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "description", "event_types", "is_enabled")


class RotateForm(forms.Form):
    grace_hours = forms.IntegerField(
        label=_("the current secret keeps signing for (hours)"),
        min_value=0,
        max_value=settings.WEBHOOK_SECRET_GRACE_MAX_HOURS,
        initial=settings.WEBHOOK_SECRET_GRACE_HOURS,
        help_text=_("0: it stops at once. Meanwhile every request carries both signatures."),
    )


def _secret_page(request: HttpRequest, admin_view: admin.ModelAdmin, endpoint: WebhookEndpoint, secret: str) -> Any:
    context = {
        **admin_view.admin_site.each_context(request),
        "title": _("Signing secret"),
        "opts": WebhookEndpoint._meta,
        "endpoint": endpoint,
        "secret": secret,
        "change_url": reverse("admin:integrations_webhookendpoint_change", args=[endpoint.pk]),
    }
    return TemplateResponse(request, "integrations/admin/secret.html", context)  # admin views: never cached


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "is_enabled", "events", "secret_masked", "previous_secret_expires_at", "created_at")
    list_filter = ("is_enabled",)
    readonly_fields = ("secret_masked", "previous_secret_expires_at")

    @admin.display(description=_("events"))
    def events(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.event_types)

    @admin.display(description=_("signing secret"))
    def secret_masked(self, endpoint: WebhookEndpoint) -> str:
        if not endpoint.pk:
            return str(_("Generated when you save; shown once."))
        return format_html(
            '{} <a href="{}">{}</a>',
            signing.secret_masked(endpoint.secret),
            reverse("admin:integrations_webhookendpoint_rotate", args=[endpoint.pk]),
            _("Rotate"),
        )

    def get_urls(self) -> list[URLPattern]:
        rotate = path(
            "<int:object_id>/rotate/",
            self.admin_site.admin_view(self.rotate_view),
            name="integrations_webhookendpoint_rotate",
        )
        return [rotate, *super().get_urls()]

    def response_add(self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue: str | None = None) -> Any:
        """The new endpoint's secret, this once (never in a message cookie)."""
        return _secret_page(request, self, obj, obj.secret)

    def rotate_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        endpoint = get_object_or_404(WebhookEndpoint, pk=object_id)
        if not self.has_change_permission(request, endpoint):
            raise PermissionDenied
        form = RotateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                secret = delivery.endpoint_secret_rotate(
                    endpoint_id=endpoint.pk, grace_hours=form.cleaned_data["grace_hours"]
                )
            except ApplicationError as error:
                form_errors_add(form, error)
            else:
                self.log_change(
                    request, endpoint, f"Signing secret rotated ({form.cleaned_data['grace_hours']} h grace)."
                )
                endpoint.refresh_from_db()
                return _secret_page(request, self, endpoint, secret)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Rotate the signing secret"),
            "opts": WebhookEndpoint._meta,
            "endpoint": endpoint,
            "form": form,
        }
        return TemplateResponse(request, "integrations/admin/rotate.html", context)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("attempted_at", "status_code", "duration_ms", "error", "response_snippet")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: one row per event and endpoint, its attempts inside; staff resend."""

    list_display = (
        "created_at",
        "event_type",
        "event_id",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("status", "event__type", "endpoint")
    search_fields = ("event__event_id",)
    list_select_related = ("event", "endpoint")
    inlines = (WebhookAttemptInline,)
    actions = ("resend",)

    @admin.display(description=_("type"), ordering="event__type")
    def event_type(self, row: WebhookDelivery) -> str:
        return row.event.type

    @admin.display(description=_("event id"))
    def event_id(self, row: WebhookDelivery) -> str:
        return row.event.event_id

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Resend"), permissions=["change"])
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count, refused = delivery.deliveries_resend(
            delivery_ids=list(queryset.values_list("pk", flat=True)),
            actor=request.user,  # type: ignore[arg-type]
        )
        if count:
            text = ngettext("%(count)d delivery queued again.", "%(count)d deliveries queued again.", count)
            self.message_user(request, text % {"count": count})
        for message in refused:
            self.message_user(request, message, level=messages.WARNING)


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    fields = ("endpoint", "status", "attempts", "last_status_code", "delivered_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """The outbox: what was sent (the body, byte for byte) and to whom."""

    list_display = ("created_at", "type", "event_id", "key")
    list_filter = ("type",)
    search_fields = ("event_id", "key")
    inlines = (WebhookDeliveryInline,)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in WebhookEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
