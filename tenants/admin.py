from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _
from django_tenants.admin import TenantAdminMixin

from tenants.models import AccessChange, Domain, Membership, Practice, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)
    fields = (
        "user",
        "role",
        "status",
        "granted_permissions",
        "revoked_permissions",
        "expires_at",
        "joined_via",
        "created_at",
    )
    readonly_fields = ("created_at",)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Practice)
class PracticeAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "schema_name", "created_at")
    search_fields = ("name", "slug", "schema_name")
    # restored_from is set by a restore (offboarding) and read by the cohorts: shown, not edited.
    readonly_fields = ("schema_name", "created_at", "restored_from")
    inlines = (DomainInline, MembershipInline)

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).exclude(schema_name="public")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        # Practices are created by practice_create (schema, domain and owner together).
        return False


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain", "tenant__name")
    list_select_related = ("tenant",)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "practice", "role", "status", "expires_at", "joined_via", "last_active_at", "created_at")
    list_filter = ("role", "status", "joined_via")
    readonly_fields = ("last_active_at", "created_at", "updated_at")
    search_fields = ("user__email", "user__full_name", "practice__name", "practice__slug")
    list_select_related = ("user", "practice")
    autocomplete_fields = ("user", "practice")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "full_name", "is_staff", "is_active", "date_joined")
    search_fields = ("email", "full_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Profile"), {"fields": ("full_name", "language")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),)
    inlines = (MembershipInline,)


@admin.register(AccessChange)
class AccessChangeAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only."""

    list_display = ("created_at", "practice", "actor", "member", "action", "ip_address")
    list_filter = ("action",)
    search_fields = ("practice__name", "practice__slug", "actor__email", "member__email")
    list_select_related = ("practice", "actor", "member")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
