from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from dentaltap.errors import ApplicationError
from referrals import services
from referrals.models import (
    AccessRequest,
    PracticeReferralSettings,
    Referral,
    ReferralAnalytics,
    ReferralCode,
    ReferralMessageTemplate,
    ReferralVisit,
    ReferrerAddress,
)


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = (
        "referred_user", "referrer", "source", "status", "eligibility", "eligibility_reason", "risk_level",
        "risk_score", "referred_practice", "created_at",
    )  # fmt: skip
    list_filter = ("source", "status", "eligibility", "eligibility_reason", "risk_level", "created_at")
    search_fields = ("referrer__email", "referred_user__email", "referred_practice__name", "referral_code__code")
    list_select_related = ("referrer", "referred_user", "referred_practice")
    date_hierarchy = "created_at"
    raw_id_fields = (
        "referrer", "referred_user", "referred_practice", "invitation", "referral_code", "partner_code", "reviewed_by",
    )  # fmt: skip
    readonly_fields = (
        "created_at", "signup_ip", "reviewed_by", "reviewed_at", "risk_level", "risk_score", "risk_signals_list",
    )  # fmt: skip
    exclude = ("risk_signals",)

    @admin.display(description=_("risk signals"))
    def risk_signals_list(self, referral: Referral) -> str:
        """Each signal with its points, strongest first (referrals/risk.py, docs/staff.md)."""
        signals = sorted(referral.risk_signals or [], key=lambda signal: -int(signal.get("points", 0)))
        if not signals:
            return str(_("None"))
        return format_html_join(
            mark_safe("<br>"),
            "+{} {}: {}",
            ((signal.get("points"), signal.get("code"), signal.get("detail")) for signal in signals),
        )

    actions = ("approve_after_review", "reject_after_review")

    def _review(self, request: HttpRequest, queryset: QuerySet[Referral], decision: str) -> None:
        done = 0
        for referral_id in queryset.values_list("pk", flat=True):
            try:
                referral = services.referral_review_decide(
                    referral_id=referral_id,
                    decision=decision,
                    actor=request.user,  # type: ignore[arg-type]
                )
            except ApplicationError as error:
                self.message_user(request, f"{referral_id}: {error.message}", messages.ERROR)
            else:
                self.log_change(request, referral, f"Staff review: {decision}.")
                done += 1
        reviewed = ngettext("%(count)d referral reviewed.", "%(count)d referrals reviewed.", done) % {"count": done}
        self.message_user(request, reviewed, messages.SUCCESS)

    @admin.action(description=_("Approve after review (eligible; release a held reward)"), permissions=["change"])
    def approve_after_review(self, request: HttpRequest, queryset: QuerySet[Referral]) -> None:
        self._review(request, queryset, services.ReviewDecision.APPROVE)

    @admin.action(
        description=_("Reject after review (not eligible; reject a reward not yet credited)"), permissions=["change"]
    )
    def reject_after_review(self, request: HttpRequest, queryset: QuerySet[Referral]) -> None:
        self._review(request, queryset, services.ReviewDecision.REJECT)


@admin.register(ReferralVisit)
class ReferralVisitAdmin(admin.ModelAdmin):
    list_display = ("visited_at", "referral_code", "ip_address", "referer", "landing_path")
    list_filter = ("visited_at",)
    search_fields = ("referral_code__code", "referral_code__user__email", "ip_address", "referer", "user_agent")
    list_select_related = ("referral_code",)
    date_hierarchy = "visited_at"
    readonly_fields = ("referral_code", "visited_at", "referer", "ip_address", "user_agent", "landing_path")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ReferralCode)
class ReferralCodeAdmin(admin.ModelAdmin):
    list_display = ("code", "user", "created_at")
    search_fields = ("code", "user__email", "user__full_name")
    raw_id_fields = ("user",)


@admin.register(AccessRequest)
class AccessRequestAdmin(admin.ModelAdmin):
    list_display = ("requester", "practice", "status", "granted_role", "created_at", "decided_at", "decided_by")
    list_filter = ("status", "created_at")
    search_fields = ("requester__email", "practice__name", "practice__slug")
    list_select_related = ("requester", "practice", "decided_by")
    raw_id_fields = ("requester", "practice", "referral", "decided_by")


@admin.register(PracticeReferralSettings)
class PracticeReferralSettingsAdmin(admin.ModelAdmin):
    list_display = ("practice", "links_grant_guest_access", "updated_at")
    list_filter = ("links_grant_guest_access",)
    search_fields = ("practice__name", "practice__slug")
    raw_id_fields = ("practice",)


@admin.register(ReferralMessageTemplate)
class ReferralMessageTemplateAdmin(admin.ModelAdmin):
    """Ready-to-send messages. A text without {link} is refused beside the field (model clean)
    and, for any other path, by a database check."""

    list_display = ("channel", "language", "subject", "is_active", "updated_at")
    list_filter = ("channel", "language", "is_active")
    search_fields = ("text", "subject")


@admin.register(ReferrerAddress)
class ReferrerAddressAdmin(admin.ModelAdmin):
    list_display = ("user", "ip_address", "first_seen_at")
    search_fields = ("user__email", "ip_address")
    raw_id_fields = ("user",)
    readonly_fields = ("first_seen_at",)


@admin.register(ReferralAnalytics)
class ReferralAnalyticsAdmin(admin.ModelAdmin):
    """The admin index entry for the staff analytics page (figures, review queue, exports)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return HttpResponseRedirect("/staff/referrals/")


from referrals import admin_partners  # noqa: E402, F401 - registers the partner pages
