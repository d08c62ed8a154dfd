from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from billing.models import (
    LedgerEntry,
    Payment,
    PaymentCard,
    PaymentReversal,
    Plan,
    PracticeAccount,
    StripeEvent,
    StripeEventStatus,
)
from billing.tasks import stripe_event_process
from dentaltap.formatting import money
from dentaltap.forms import ModelErrorsForm
from dentaltap.translated import translations_complete_display, translations_filter


class MoneyColumns:
    """Amounts in lists as customers see them ("$50.00"), through dentaltap.formatting."""

    @admin.display(description=_("amount"), ordering="amount_cents")
    def amount(self, obj: Any) -> str:
        return money(obj.amount_cents, getattr(obj, "currency", "usd"))


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that only the system writes: staff read them (and act through actions)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "code",
        "is_freemium",
        "price",
        "stripe_price_id",
        "max_patients",
        "max_practitioners",
        "is_active",
        "translated",
    )
    list_editable = ("is_active",)
    list_filter = (translations_filter("name"),)
    form = ModelErrorsForm
    fields = (
        ("code", "is_freemium"),
        ("name", "name_ru", "name_de"),
        ("price_cents", "currency", "interval"),
        "stripe_price_id",
        ("max_patients", "max_practitioners"),
        ("is_active", "sort_order"),
    )
    translated = translations_complete_display("name")

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> Any:
        """The editable "offered" column validates like the change form (the names), its errors
        on the row rather than Django's ValueError for a field the row does not show."""
        return super().get_changelist_form(request, form=ModelErrorsForm, **kwargs)

    @admin.display(description=_("price"), ordering="price_cents")
    def price(self, plan: Plan) -> str:
        return money(plan.price_cents, plan.currency)


@admin.register(PracticeAccount)
class PracticeAccountAdmin(admin.ModelAdmin):
    list_display = ("practice", "plan", "stripe_customer_id", "subscription_status", "current_period_end")
    list_filter = ("plan", "subscription_status")
    search_fields = ("practice__name", "practice__slug", "stripe_customer_id")
    list_select_related = ("practice", "plan")
    readonly_fields = ("stripe_customer_id", "stripe_subscription_id", "subscription_event_created", "updated_at")


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "type", "stripe_event_id", "object_id", "status", "attempts", "note")
    list_filter = ("status", "type", "livemode")
    search_fields = ("stripe_event_id", "object_id")
    actions = ("reprocess",)

    @admin.action(description=_("Process again (pending or failed events)"), permissions=["change"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[StripeEvent]) -> None:
        events = list(queryset.filter(status__in=[StripeEventStatus.PENDING, StripeEventStatus.FAILED]))
        for event in events:
            StripeEvent.objects.filter(pk=event.pk).update(status=StripeEventStatus.PENDING)
            self.log_change(request, event, f"Queued for processing again (was {event.status}).")
            pk = event.pk
            transaction.on_commit(lambda pk=pk: stripe_event_process.delay(pk), robust=True)  # type: ignore[misc]
        skipped = queryset.count() - len(events)
        queued = len(events)
        self.message_user(
            request, ngettext("%(count)d event queued.", "%(count)d events queued.", queued) % {"count": queued}
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d event already processed or ignored was left as it is.",
                    "%(count)d events already processed or ignored were left as they are.",
                    skipped,
                )
                % {"count": skipped},
                level=messages.WARNING,
            )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser  # needed to run actions; the fields stay read-only

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in StripeEvent._meta.fields]


@admin.register(Payment)
class PaymentAdmin(MoneyColumns, ReadOnlyAdmin):
    list_display = ("paid_at", "practice", "stripe_invoice_id", "amount", "is_reversed")
    list_filter = ("is_reversed", "currency")
    search_fields = ("stripe_invoice_id", "stripe_customer_id", "practice__name")


@admin.register(PaymentReversal)
class PaymentReversalAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "kind", "stripe_object_id", "stripe_charge_id", "amount_cents")
    list_filter = ("kind",)


@admin.register(PaymentCard)
class PaymentCardAdmin(ReadOnlyAdmin):
    """Cards practices paid with (Stripe fingerprints): the same-card rule's evidence."""

    list_display = ("first_seen_at", "practice", "brand", "last4", "fingerprint", "first_seen_on")
    search_fields = ("fingerprint", "practice__name", "practice__slug", "last4")
    list_select_related = ("practice",)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(MoneyColumns, ReadOnlyAdmin):
    list_display = (
        "created_at",
        "practice",
        "kind",
        "amount",
        "reward",
        "stripe_balance_transaction_id",
    )
    list_filter = ("kind", "currency")
    search_fields = ("practice__name", "stripe_balance_transaction_id")
