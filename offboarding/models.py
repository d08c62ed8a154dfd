"""The log of staff operations on a whole practice: who exported, deleted or restored which
practice, when and why. Append-only in use (nothing edits a row but the deletion's Stripe step)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class OperationKind(models.TextChoices):
    EXPORT = "export", _("Practice exported")
    DELETE = "delete", _("Practice deleted")
    RESTORE = "restore", _("Practice restored")


class PracticeOperation(models.Model):
    kind = models.CharField(_("operation"), max_length=10, choices=OperationKind.choices)
    # The practice operated on: the exported or deleted one (its tombstone after a deletion), the
    # new one for a restore. The slug is the one it had then (a tombstone's is anonymised).
    practice = models.ForeignKey("tenants.Practice", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    practice_slug = models.CharField(_("practice address"), max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(_("by"), max_length=200, help_text=_("The staff member, or the command."))
    reason = models.CharField(_("reason"), max_length=500)
    archive_sha256 = models.CharField(_("archive SHA-256"), max_length=64, blank=True)
    # A restore: the practice the archive was made from.
    source_practice_id = models.BigIntegerField(null=True, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    # A deletion's Stripe customer, deleted after the commit: the outbox of that step.
    stripe_customer_id = models.CharField(max_length=100, blank=True)
    stripe_customer_done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("practice operation")
        verbose_name_plural = _("practice operations")
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(kind__in=OperationKind.values), name="practice_operation_kind_known"),
            models.CheckConstraint(condition=~Q(reason=""), name="practice_operation_has_reason"),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["created_at"],
                condition=Q(kind="delete") & ~Q(stripe_customer_id="") & Q(stripe_customer_done_at__isnull=True),
                name="practice_operation_stripe_owed",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.practice_slug} ({self.created_at:%Y-%m-%d %H:%M})"
