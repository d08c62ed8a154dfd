"""Staff admin of the affiliate ledger (cash revenue share): every entry read-only, never
changed or deleted; "add" records a payout (rewards.payouts.payout_record), and an action
reverses payouts recorded by mistake. Imported by rewards.admin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dentaltap.errors import ApplicationError
from dentaltap.formatting import money
from dentaltap.forms import form_errors_add
from rewards import payouts
from rewards.models import AffiliateEntry, AffiliateEntryKind
from tenants.models import User


class PayoutForm(forms.Form):
    affiliate = forms.EmailField(label=gettext_lazy("Affiliate (email)"))
    amount_cents = forms.IntegerField(label=gettext_lazy("Amount paid (cents)"))
    currency = forms.CharField(label=gettext_lazy("currency"), max_length=3, initial="usd")
    paid_on = forms.DateField(label=gettext_lazy("Paid on"), initial=timezone.localdate)
    reference = forms.CharField(label=gettext_lazy("transfer reference"), max_length=100)
    note = forms.CharField(label=gettext_lazy("note"), max_length=300, required=False)

    def clean_affiliate(self) -> User:
        user = User.objects.filter(email__iexact=self.cleaned_data["affiliate"]).first()
        if user is None:
            raise forms.ValidationError(_("No user has this email address."))
        return user


@admin.register(AffiliateEntry)
class AffiliateEntryAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "affiliate", "kind", "amount", "reference", "reward", "recorded_by")
    list_filter = ("kind", "currency")
    search_fields = ("affiliate__email", "reference")
    list_select_related = ("affiliate", "recorded_by")
    raw_id_fields = ("affiliate", "reward", "reverses", "recorded_by")
    actions = ("reverse_payouts",)

    @admin.display(description=gettext_lazy("amount"))
    def amount(self, entry: AffiliateEntry) -> str:
        return money(entry.amount_cents, entry.currency)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in AffiliateEntry._meta.fields]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # append-only: the change page shows the entry, read-only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """ "Add" records a payout through the service (the balance owed is checked under a lock)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = PayoutForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                entry = payouts.payout_record(
                    affiliate=data["affiliate"],
                    amount_cents=data["amount_cents"],
                    currency=data["currency"],
                    paid_on=data["paid_on"],
                    reference=data["reference"],
                    note=data["note"],
                    actor=request.user,  # type: ignore[arg-type]
                )
            except ApplicationError as error:
                form_errors_add(form, error)
            else:
                self.log_addition(request, entry, "Payout recorded.")
                self.message_user(request, _("Payout recorded: %(entry)s.") % {"entry": entry})
                return HttpResponseRedirect(reverse("admin:rewards_affiliateentry_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Record a payout"),
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/rewards/payout_form.html", context, status=400 if form.errors else 200)

    @admin.action(description=gettext_lazy("Reverse the selected payouts (recorded by mistake)"), permissions=["add"])
    def reverse_payouts(self, request: HttpRequest, queryset: QuerySet[AffiliateEntry]) -> None:
        for entry in queryset.filter(kind=AffiliateEntryKind.PAID_OUT).order_by("pk"):
            try:
                reversal = payouts.payout_reverse(
                    payout_id=entry.pk,
                    actor=request.user,  # type: ignore[arg-type]
                    note=_("Reversed by staff in the admin."),
                )
            except ApplicationError as error:
                self.message_user(request, f"#{entry.pk}: {error.message}", level=messages.WARNING)
            else:
                self.log_addition(request, reversal, f"Reverses payout #{entry.pk}.")
                self.message_user(request, _("Payout #%(id)s reversed.") % {"id": entry.pk})
