"""Staff pages for partners: partners, code batches (created through the service, exported as
CSV), redemptions (read only), and manual attribution with its log. Imported by
`referrals.admin`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from dentaltap.errors import ApplicationError
from dentaltap.forms import form_errors_add
from referrals import partners
from referrals.manual_attribution import attribution_assign
from referrals.models import (
    AttributionChange,
    Partner,
    PartnerCode,
    PartnerCodeBatch,
    PartnerCodeKind,
    PartnerRedemption,
)
from tenants.models import Practice, User


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "is_active", "created_at")
    search_fields = ("name", "account__email")
    raw_id_fields = ("account",)


class PartnerCodeBatchForm(forms.ModelForm):  # type: ignore[type-arg]
    shared_code = forms.CharField(
        label=_("Shared code"),
        max_length=40,
        required=False,
        help_text=_("A shared code only: the code to print, e.g. SUPPLIER2026. Empty: one is generated."),
    )

    class Meta:
        model = PartnerCodeBatch
        fields = (
            "partner", "label", "kind", "size", "max_redemptions", "expires_at", "trial_days", "stripe_coupon_id",
        )  # fmt: skip

    def clean_stripe_coupon_id(self) -> str:
        """The coupon must exist in Stripe (asked through the SDK): a typo is refused here, not
        at a dentist's checkout."""
        coupon_id = (self.cleaned_data.get("stripe_coupon_id") or "").strip()
        if coupon_id and (problem := partners.coupon_problem(coupon_id)):
            # The batch does name a benefit (the model's "no benefit" rule stays quiet): the one
            # problem is this coupon, said beside it. The form is invalid, so nothing is saved.
            self.instance.stripe_coupon_id = coupon_id
            raise forms.ValidationError(problem)
        return coupon_id

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == PartnerCodeKind.SINGLE_USE and data.get("max_redemptions") not in (None, 1):
            self.add_error("max_redemptions", _("Single-use codes are used once each: leave this empty."))
        shared_code = partners.code_normalize(self.cleaned_data.get("shared_code", ""))
        if data.get("kind") == PartnerCodeKind.SINGLE_USE and shared_code:
            self.add_error("shared_code", _("Single-use codes are generated: leave this empty."))
        elif shared_code and (problem := partners.shared_code_problem(shared_code)):
            self.add_error("shared_code", problem)
        return data


@admin.register(PartnerCodeBatch)
class PartnerCodeBatchAdmin(admin.ModelAdmin):
    form = PartnerCodeBatchForm
    list_display = ("label", "partner", "kind", "size", "max_redemptions", "expires_at", "trial_days", "created_at")
    list_filter = ("kind", "partner")
    search_fields = ("label", "partner__name", "codes__code")
    actions = ("export_codes_csv",)

    def get_readonly_fields(self, request: HttpRequest, obj: PartnerCodeBatch | None = None) -> Any:
        # The codes are printed: what they are and give is fixed once made; a new batch changes it.
        if obj is not None:
            return ("partner", "kind", "size", "max_redemptions", "trial_days", "stripe_coupon_id", "created_at")
        return ()

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is not None:
            kwargs["exclude"] = ("shared_code",)
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request: HttpRequest, obj: PartnerCodeBatch, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        try:
            partners.partner_batch_create(
                batch=obj,
                shared_code=form.cleaned_data.get("shared_code", ""),
                by=request.user,  # type: ignore[arg-type]
            )
        except ApplicationError as error:
            # A chosen code already taken: nothing was saved (the service's transaction).
            obj.pk = None
            messages.error(request, error.message)

    def response_add(self, request: HttpRequest, obj: PartnerCodeBatch, post_url_continue: str | None = None) -> Any:
        if obj.pk is None:
            return HttpResponseRedirect(reverse("admin:referrals_partnercodebatch_add"))
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description=_("Export the codes as CSV"))
    def export_codes_csv(self, request: HttpRequest, queryset: QuerySet[PartnerCodeBatch]) -> HttpResponse:
        body = partners.batch_csv(batches=queryset.select_related("partner").order_by("pk"))
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="partner-codes.csv"'
        return response


@admin.register(PartnerCode)
class PartnerCodeAdmin(admin.ModelAdmin):
    list_display = ("code", "batch", "redemptions", "max_redemptions")
    search_fields = ("code", "batch__label", "batch__partner__name")
    readonly_fields = ("batch", "code", "redemptions", "max_redemptions")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # codes come with their batch


@admin.register(PartnerRedemption)
class PartnerRedemptionAdmin(admin.ModelAdmin):
    list_display = ("code", "practice", "place", "attributed", "redeemed_by", "redeemed_at")
    list_filter = ("place", "attributed")
    search_fields = ("code__code", "practice__name")
    readonly_fields = ("code", "practice", "redeemed_by", "place", "attributed", "redeemed_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ManualAttributionForm(forms.Form):
    practice = forms.ModelChoiceField(
        label=_("Practice"), queryset=Practice.objects.exclude(schema_name="public").order_by("name")
    )
    referrer_email = forms.EmailField(
        label=_("Referrer's email"), required=False, help_text=_("The colleague who sent them (“Dr. X sent me”).")
    )
    partner = forms.ModelChoiceField(
        label=_("Or a partner"), queryset=Partner.objects.filter(is_active=True), required=False
    )
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}))
    override = forms.BooleanField(
        label=_("Replace an existing attribution"),
        required=False,
        help_text=_("Without this, a practice that is already attributed keeps its referrer."),
    )

    def clean_referrer_email(self) -> User | None:
        email = (self.cleaned_data.get("referrer_email") or "").strip().lower()
        if not email:
            return None
        user = User.objects.filter(email=email).first()
        if user is None:
            raise forms.ValidationError(_("No account uses this email."))
        return user


@admin.register(AttributionChange)
class AttributionChangeAdmin(admin.ModelAdmin):
    """The log, read only; "Add" is the manual attribution page (it writes the log)."""

    list_display = ("practice", "before", "after", "overrode", "changed_by", "changed_at")
    list_filter = ("overrode", "changed_at")
    search_fields = ("practice__name", "before", "after", "reason", "changed_by__email")
    readonly_fields = ("practice", "changed_by", "changed_at", "reason", "before", "after", "overrode")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        own = [path("assign/", self.admin_site.admin_view(self.assign_view), name="referrals_attribution_assign")]
        return own + super().get_urls()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        return self.assign_view(request)

    def assign_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        form = ManualAttributionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                change = attribution_assign(
                    practice=data["practice"],
                    staff=request.user,  # type: ignore[arg-type]
                    reason=data["reason"],
                    referrer=data["referrer_email"],
                    partner=data["partner"],
                    override=data["override"],
                )
            except ApplicationError as error:
                form_errors_add(form, error, field_names={"referrer": "referrer_email"})
            else:
                messages.success(request, _("Attributed: %(after)s.") % {"after": change.after})
                return HttpResponseRedirect(reverse("admin:referrals_attributionchange_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Attribute a practice"),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/referrals/attribution_assign.html", context)
