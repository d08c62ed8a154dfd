"""Points: the append-only ledger per user, the catalogue, redemptions."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dentaltap.translated import translations_require
from rewards.models.rewards import Reward


class PointsKind(models.TextChoices):
    REWARD = "reward", _("Points reward")
    REWARD_REVERSED = "reward_reversed", _("Points reward reversed")
    REDEMPTION = "redemption", _("Redeemed")


class PointsEntry(models.Model):
    """Append-only points ledger of a user: a balance is a sum, a correction a reversing entry.
    One entry per reward and kind, one per redemption (database rules)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="points_entries")
    kind = models.CharField(max_length=20, choices=PointsKind.choices)
    points = models.IntegerField(help_text=_("Positive: earned. Negative: spent or reversed."))
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, null=True, blank=True, related_name="points_entries")
    redemption = models.OneToOneField(
        "Redemption", on_delete=models.PROTECT, null=True, blank=True, related_name="points_entry"
    )
    description = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points ledger")
        ordering: ClassVar = ["-created_at", "-id"]
        indexes: ClassVar = [models.Index(fields=["user", "created_at"], name="points_user_idx")]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["reward", "kind"], name="points_one_entry_per_reward_and_kind"),
            models.CheckConstraint(condition=~Q(points=0), name="points_nonzero"),
            models.CheckConstraint(condition=Q(kind__in=PointsKind.values), name="points_kind_known"),
            models.CheckConstraint(
                condition=Q(kind=PointsKind.REDEMPTION, redemption__isnull=False, points__lt=0)
                | (~Q(kind=PointsKind.REDEMPTION) & Q(reward__isnull=False)),
                name="points_entry_has_its_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise RuntimeError("Points entries are append-only: add a reversing entry instead.")
        super().save(*args, **kwargs)


class CatalogueItem(models.Model):
    """What points buy (one month of Pro, a $50 credit...). Staff hand out what was redeemed."""

    name = models.CharField(_("name"), max_length=80)
    name_ru = models.CharField(_("name in Russian"), max_length=80, blank=True)
    name_de = models.CharField(_("name in German"), max_length=80, blank=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    description_ru = models.CharField(_("description in Russian"), max_length=300, blank=True)
    description_de = models.CharField(_("description in German"), max_length=300, blank=True)
    cost_points = models.PositiveIntegerField(_("cost (points)"))
    stock = models.PositiveIntegerField(_("stock"), null=True, blank=True, help_text=_("Empty: unlimited."))
    available_until = models.DateTimeField(_("available until"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("catalogue item")
        verbose_name_plural = _("reward catalogue")
        ordering: ClassVar = ["cost_points", "pk"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(cost_points__gte=1),
                name="catalogue_item_costs_points",
                violation_error_message=_("cost (points): at least 1."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.cost_points} points)"

    def clean(self) -> None:
        """The name and description in every language while dentists read them (in the
        catalogue while active, in their redemptions once redeemed)."""
        if self.is_active or (self.pk is not None and self.redemptions.exists()):
            translations_require(
                self,
                "name",
                "description",
                reason=_("dentists read the catalogue while an item is active, and their redemptions of it."),
            )


class Redemption(models.Model):
    """Points spent on a catalogue item: one per (user, idempotency key), so a retried
    redemption returns the first one instead of spending again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="redemptions")
    item = models.ForeignKey(CatalogueItem, on_delete=models.PROTECT, related_name="redemptions")
    points = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=100)
    fulfilled_at = models.DateTimeField(_("handed out"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "idempotency_key"], name="redemption_once_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.item.name}"
