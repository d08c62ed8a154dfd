from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from onboarding.models import ActivationRule, PracticeMilestone


@admin.register(PracticeMilestone)
class PracticeMilestoneAdmin(admin.ModelAdmin):
    """Written by the system once and never moved: staff read them."""

    list_display = ("practice", "key", "reached_at")
    list_filter = ("key",)
    search_fields = ("practice__name", "practice__slug")
    date_hierarchy = "reached_at"
    list_select_related = ("practice",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ActivationRule)
class ActivationRuleAdmin(admin.ModelAdmin):
    list_display = ("__str__", "minimum_patients", "minimum_completed_appointments", "within_days", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not ActivationRule.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
