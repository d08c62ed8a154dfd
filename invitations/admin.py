from django.contrib import admin

from invitations.models import Invitation


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "practice", "role", "status", "invited_by", "sent_at", "expires_at", "accepted_at")
    list_filter = ("status", "role", ("sent_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("email", "practice__name", "practice__slug", "invited_by__email")
    list_select_related = ("practice", "invited_by")
    date_hierarchy = "created_at"
    # Tokens are never shown (only their hash exists) and states change through the services.
    readonly_fields = (
        "practice", "invited_by", "email", "role", "message", "status", "expires_at", "send_requested_at",
        "sent_at", "send_count", "accepted_at", "accepted_by", "created_at", "updated_at",
    )  # fmt: skip
    exclude = ("token_hash",)

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
