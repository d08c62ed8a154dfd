"""Staff admin of outbound webhooks: endpoints (the signing secret shown once, then masked, and
rotated with a grace period; "send a test event"; why and when one is disabled, and switching it
back on), the events in the outbox, and the delivery log with its attempts and a "resend"
action."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from dentaltap.errors import ApplicationError
from dentaltap.forms import form_errors_add
from integrations import delivery, events, health, signing
from integrations.models import (
    SUBSCRIBABLE_CHOICES,
    DeliveryStatus,
    DisabledReason,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=capfirst(_("events")), choices=SUBSCRIBABLE_CHOICES, widget=forms.CheckboxSelectMultiple
    )
    # "Enabled" as the page showed it: a page opened before the endpoint disabled itself and saved
    # with the box untouched must not switch it back on (the save compares with this, not the row).
    is_enabled_as_loaded = forms.BooleanField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "description", "event_types", "is_enabled")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["is_enabled_as_loaded"].initial = self.instance.is_enabled if self.instance.pk else True

    def enabled_toggled(self) -> bool:
        """Whether staff changed the box on the page they loaded (an old page without the hidden
        field: whether it differs from the row)."""
        if "is_enabled_as_loaded" not in self.data:
            return "is_enabled" in self.changed_data
        return bool(self.cleaned_data.get("is_enabled")) != bool(self.cleaned_data.get("is_enabled_as_loaded"))


class RotateForm(forms.Form):
    grace_hours = forms.IntegerField(
        label=capfirst(_("the current secret keeps signing for (hours)")),
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
    change_form_template = "integrations/admin/endpoint_change_form.html"
    list_display = ("url", "is_enabled", "health_state", "events", "secret_masked", "previous_secret_expires_at")
    list_filter = ("is_enabled", "disabled_reason")
    readonly_fields = ("health_state", "secret_masked", "previous_secret_expires_at")
    actions = ("send_test_event",)

    @admin.display(description=_("health"))
    def health_state(self, endpoint: WebhookEndpoint) -> str:
        """Why and since when it is off, or how long it has been failing (empty: all well)."""
        if not endpoint.pk:
            return ""
        parts = []
        if not endpoint.is_enabled and endpoint.disabled_at is not None:
            parts.append(
                _("%(reason)s, on %(when)s.")
                % {
                    "reason": DisabledReason(endpoint.disabled_reason).label,
                    "when": formats.date_format(endpoint.disabled_at, "DATETIME_FORMAT"),
                }
            )
        if endpoint.failing_since is not None:
            parts.append(
                ngettext(
                    "%(count)d request in a row failed, since %(since)s.",
                    "%(count)d requests in a row failed, since %(since)s.",
                    endpoint.failure_streak,
                )
                % {
                    "count": endpoint.failure_streak,
                    "since": formats.date_format(endpoint.failing_since, "DATETIME_FORMAT"),
                }
            )
        return " ".join(str(part) for part in parts)

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
        test = path(
            "<int:object_id>/test/",
            self.admin_site.admin_view(self.test_event_view),
            name="integrations_webhookendpoint_test",
        )
        return [rotate, test, *super().get_urls()]

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        """A change saves only what the form edits (never a stale copy of the secret or of the
        failure streak an attempt just moved); switching it off or on goes through the service
        (the reason and time recorded; on again: its kept deliveries resume)."""
        if not change:
            if not obj.is_enabled:
                obj.disabled_reason, obj.disabled_at = DisabledReason.STAFF, timezone.now()
            super().save_model(request, obj, form, change)
            return
        obj.save(update_fields=["url", "description", "event_types", "updated_at"])
        if not form.enabled_toggled():
            obj.refresh_from_db()
            return
        if obj.is_enabled and health.endpoint_enable(endpoint_id=obj.pk):
            pending = obj.deliveries.filter(status=DeliveryStatus.PENDING).count()
            text = ngettext(
                "Enabled again: %(count)d pending delivery is sent now.",
                "Enabled again: %(count)d pending deliveries are sent now.",
                pending,
            )
            self.message_user(request, text % {"count": pending})
        elif not obj.is_enabled:
            health.endpoint_disable(endpoint_id=obj.pk)
        obj.refresh_from_db()

    @admin.action(description=_("Send a test event"), permissions=["change"])
    def send_test_event(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset.order_by("pk"):
            self._test_send(request, endpoint)

    def test_event_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """POST only (the button on the endpoint's page): sends one, then shows its delivery."""
        endpoint = get_object_or_404(WebhookEndpoint, pk=object_id)
        if not self.has_change_permission(request, endpoint):
            raise PermissionDenied
        change_url = reverse("admin:integrations_webhookendpoint_change", args=[endpoint.pk])
        if request.method != "POST":
            return HttpResponseRedirect(change_url)
        row = self._test_send(request, endpoint)
        return HttpResponseRedirect(reverse("admin:integrations_webhookdelivery_change", args=[row.pk]))

    def _test_send(self, request: HttpRequest, endpoint: WebhookEndpoint) -> WebhookDelivery:
        row, created = events.endpoint_test_send(endpoint_id=endpoint.pk)
        if created:
            self.log_change(request, endpoint, "Test event sent.")
            self.message_user(
                request,
                _("A test event is on its way to %(url)s: reload its delivery to see the answer.")
                % {"url": endpoint.url},
            )
        else:
            self.message_user(
                request,
                _("A test event went to %(url)s less than %(seconds)d seconds ago: not sent again.")
                % {"url": endpoint.url, "seconds": settings.WEBHOOK_TEST_EVENT_INTERVAL_SECONDS},
                level=messages.WARNING,
            )
        return row

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
