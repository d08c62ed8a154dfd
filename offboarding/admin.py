from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from offboarding.models import PracticeOperation


@admin.register(PracticeOperation)
class PracticeOperationAdmin(admin.ModelAdmin):
    """The log of exports, deletions and restores (read only; the staff page at
    /staff/practices/offboarding/ does them)."""

    list_display = ("created_at", "kind", "practice_slug", "actor_label", "reason", "stripe_customer_done_at")
    list_filter = ("kind",)
    search_fields = ("practice_slug", "actor_label", "reason")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
