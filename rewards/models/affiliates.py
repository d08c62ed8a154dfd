"""Affiliates paid in cash (revenue share): the append-only ledger of what each is owed.

A rule that pays out in cash (`RewardRule.payout`) earns the referrer an entry here instead of
a Stripe balance credit; refunds and disputes add reversing entries; staff record the payouts
they made by bank transfer (there are no payout rails). An entry is never changed or deleted
(a database trigger refuses it, migration 0008): a wrong payout is corrected by a reversing
entry and a new payout. The balance owed is the sum of the entries."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rewards.models.rewards import Reward


class AffiliateEntryKind(models.TextChoices):
    EARNED = "earned", _("Earned")
    REVERSED = "reversed", _("Reversed (refund or dispute)")
    PAID_OUT = "paid_out", _("Paid out")
    PAYOUT_REVERSED = "payout_reversed", _("Payout reversed")


REWARD_KINDS = (AffiliateEntryKind.EARNED, AffiliateEntryKind.REVERSED)
PAYOUT_KINDS = (AffiliateEntryKind.PAID_OUT, AffiliateEntryKind.PAYOUT_REVERSED)


class AffiliateEntry(models.Model):
    """One movement of what an affiliate is owed, in cents: positive when it grows (earned, a
    payout reversed), negative when it shrinks (a refund or dispute, a payout). One entry per
    reward, kind and key, and at most one reversal per payout (database rules)."""

    affiliate = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="affiliate_entries",
        verbose_name=_("affiliate"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=AffiliateEntryKind.choices)
    amount_cents = models.IntegerField(_("amount (cents)"))
    currency = models.CharField(_("currency"), max_length=3, default="usd")
    reward = models.ForeignKey(
        Reward, on_delete=models.PROTECT, null=True, blank=True, related_name="affiliate_entries"
    )
    key = models.CharField(max_length=40, blank=True, default="", help_text=_("Which adjustment of the reward."))
    reverses = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
        verbose_name=_("reverses"),
    )
    reference = models.CharField(_("transfer reference"), max_length=100, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="affiliate_entries_recorded",
        verbose_name=_("recorded by"),
    )
    occurred_at = models.DateTimeField(_("date"), default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("affiliate ledger entry")
        verbose_name_plural = _("affiliate ledger")
        ordering: ClassVar = ["-occurred_at", "-id"]
        indexes: ClassVar = [
            models.Index(fields=["affiliate", "occurred_at"], name="affiliate_entry_idx"),
            models.Index(fields=["occurred_at"], name="affiliate_entry_month_idx"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(kind__in=AffiliateEntryKind.values), name="affiliate_kind_known"),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=(AffiliateEntryKind.EARNED, AffiliateEntryKind.PAYOUT_REVERSED), amount_cents__gt=0)
                    | Q(kind__in=(AffiliateEntryKind.REVERSED, AffiliateEntryKind.PAID_OUT), amount_cents__lt=0)
                ),
                name="affiliate_amount_sign_by_kind",
                violation_error_message=_("amount: earned and payout reversals add, reversals and payouts subtract."),
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=REWARD_KINDS, reward__isnull=False, reverses__isnull=True)
                    | Q(kind=AffiliateEntryKind.PAID_OUT, reward__isnull=True, reverses__isnull=True)
                    | Q(kind=AffiliateEntryKind.PAYOUT_REVERSED, reward__isnull=True, reverses__isnull=False)
                ),
                name="affiliate_entry_has_its_source",
            ),
            models.UniqueConstraint(
                fields=["reward", "kind", "key"],
                condition=Q(reward__isnull=False),
                name="affiliate_one_entry_per_reward_kind_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_cents / 100:+.2f} {self.currency.upper()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise RuntimeError("Affiliate ledger entries are append-only: record a reversing entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Affiliate ledger entries are append-only: record a reversing entry instead.")
