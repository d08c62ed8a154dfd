from django.contrib import admin

from referrals.models import AccessRequest, PracticeReferralSettings, Referral, ReferralCode, ReferralVisit


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = (
        "referred_user", "referrer", "source", "status", "eligibility", "eligibility_reason", "referred_practice",
        "created_at",
    )  # fmt: skip
    list_filter = ("source", "status", "eligibility", "eligibility_reason", "created_at")
    search_fields = ("referrer__email", "referred_user__email", "referred_practice__name", "referral_code__code")
    list_select_related = ("referrer", "referred_user", "referred_practice")
    date_hierarchy = "created_at"
    raw_id_fields = ("referrer", "referred_user", "referred_practice", "invitation", "referral_code")
    readonly_fields = ("created_at",)


@admin.register(ReferralVisit)
class ReferralVisitAdmin(admin.ModelAdmin):
    list_display = ("visited_at", "referral_code", "ip_address", "referer", "landing_path")
    list_filter = ("visited_at",)
    search_fields = ("referral_code__code", "referral_code__user__email", "ip_address", "referer", "user_agent")
    list_select_related = ("referral_code",)
    date_hierarchy = "visited_at"
    readonly_fields = ("referral_code", "visited_at", "referer", "ip_address", "user_agent", "landing_path")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
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
