"""Referral rewards (public schema): the program's terms, one reward per referral, and the log of
everything that happened to each. Money is integer cents plus an ISO currency code.

The tables were created by `billing` and moved here with their rows (migrations 0001/0002):
ids, and so the Stripe idempotency keys built from them, are unchanged."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing.models import Payment
from dentaltap.formatting import money
from referrals.models import Referral
from tenants.models import Practice


class ReferralProgram(models.Model):
    """The referral reward's terms (admin-editable). The newest active row applies."""

    name = models.CharField(max_length=80, default="Two-sided credit")
    reward_cents = models.PositiveIntegerField(_("reward (cents)"), default=5000)
    currency = models.CharField(max_length=3, default="usd")
    hold_days = models.PositiveSmallIntegerField(_("hold period (days)"), default=14)
    yearly_cap_per_referrer = models.PositiveIntegerField(_("rewards per referrer per year"), default=20)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("referral program")
        verbose_name_plural = _("referral program")
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name}: {money(self.reward_cents, self.currency)}, hold {self.hold_days}d"


class RewardStatus(models.TextChoices):
    PENDING = "pending", _("Pending (hold period)")
    ON_HOLD = "on_hold", _("On hold (staff review)")
    CREDITING = "crediting", _("Being credited")
    CREDITED = "credited", _("Credited")
    CANCELLED = "cancelled", _("Cancelled")
    REJECTED = "rejected", _("Rejected by staff")
    CLAWED_BACK = "clawed_back", _("Clawed back")
    FAILED = "failed", _("Credit failed")


class Reward(models.Model):
    """What a qualified referral earns its referrer: one reward per referral (database rule)."""

    referral = models.OneToOneField(Referral, on_delete=models.PROTECT, related_name="reward")
    referrer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="rewards")
    beneficiary_practice = models.ForeignKey(
        Practice, on_delete=models.PROTECT, related_name="rewards", help_text=_("Whose Stripe balance it lowers.")
    )
    qualifying_payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="rewards")
    program = models.ForeignKey(ReferralProgram, on_delete=models.PROTECT, related_name="rewards")
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=RewardStatus.choices, default=RewardStatus.PENDING)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    hold_until = models.DateTimeField()
    stripe_balance_transaction_id = models.CharField(max_length=100, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    credited_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering: ClassVar = ["-created_at"]
        indexes: ClassVar = [
            models.Index(fields=["hold_until"], condition=Q(status="pending"), name="reward_due_idx"),
            models.Index(fields=["referrer", "created_at"], name="reward_referrer_idx"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(status__in=RewardStatus.values), name="reward_status_known"),
        ]

    def __str__(self) -> str:
        return f"Reward {self.pk}: {money(self.amount_cents, self.currency)} ({self.status})"


class RewardAction(models.Model):
    """Audit of everything that happened to a reward: system steps and staff decisions."""

    reward = models.ForeignKey(Reward, on_delete=models.CASCADE, related_name="actions")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"
