"""One reward per (rule, referral, occurrence, recipient) and the log of what happened to it."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing.models import Payment
from dentaltap.formatting import money
from referrals.models import Referral
from rewards.models.programs import PayoutMethod, ReferralProgram, RewardRecipient, RewardRule
from tenants.models import Practice


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
    """What one rule pays one recipient of one referral for one occurrence of its event: one
    reward per (rule, referral, occurrence, recipient), by database rule. `referrer` is always
    the referral's referrer (caps count per referrer); the recipient is the referrer or the
    referred practice (two-sided), `beneficiary_practice` whose Stripe balance a credit lowers
    and `recipient_user` who gets points."""

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="rewards")
    referrer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="rewards")
    recipient = models.CharField(max_length=10, choices=RewardRecipient.choices, default=RewardRecipient.REFERRER)
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="rewards_received", null=True, blank=True
    )
    beneficiary_practice = models.ForeignKey(
        Practice, on_delete=models.PROTECT, related_name="rewards", help_text=_("Whose Stripe balance it lowers.")
    )
    qualifying_payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="rewards", null=True, blank=True
    )
    program = models.ForeignKey(ReferralProgram, on_delete=models.PROTECT, related_name="rewards")
    rule = models.ForeignKey(RewardRule, on_delete=models.PROTECT, related_name="rewards")
    occurrence = models.CharField(
        max_length=40, default="once", help_text=_("Which occurrence of the rule's event: once, or payment:<id>.")
    )
    amount_cents = models.PositiveIntegerField(default=0)
    points = models.PositiveIntegerField(default=0)
    basis_points = models.PositiveIntegerField(
        default=0, help_text=_("A percentage reward's rate: refunds lower it in proportion.")
    )
    currency = models.CharField(max_length=3)
    payout = models.CharField(
        max_length=10,
        choices=PayoutMethod.choices,
        default=PayoutMethod.CREDIT,
        db_default=PayoutMethod.CREDIT,
        help_text=_("Credit: the beneficiary's Stripe balance. Cash: the referrer's affiliate ledger."),
    )
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
            models.CheckConstraint(condition=Q(recipient__in=RewardRecipient.values), name="reward_recipient_known"),
            models.UniqueConstraint(
                fields=["rule", "referral", "occurrence", "recipient"], name="reward_once_per_rule_occurrence_recipient"
            ),
        ]

    def __str__(self) -> str:
        return f"Reward {self.pk}: {self.value_label} ({self.status})"

    @property
    def is_points(self) -> bool:
        return self.points > 0

    @property
    def value_label(self) -> str:
        return (
            _("%(points)s points") % {"points": self.points}
            if self.is_points
            else money(self.amount_cents, self.currency)
        )

    @property
    def is_cash(self) -> bool:
        return self.payout == PayoutMethod.CASH

    @property
    def payment_reversed(self) -> bool:
        """The qualifying payment was refunded (half or more) or disputed; rewards without a
        payment (signup, activation) are never reversed by one."""
        return self.qualifying_payment is not None and self.qualifying_payment.is_reversed


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


# --------------------------------------------------------------------------- points
