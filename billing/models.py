"""Billing (public schema): plans, each practice's Stripe account, the Stripe event inbox, paid
invoices, the cards they were paid with and the append-only credit ledger. Referral rewards
live one layer up, in `rewards`.

Money is integer cents plus an ISO currency code, everywhere."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dentaltap.formatting import money
from dentaltap.translated import translations_require
from tenants.models import Practice


class Plan(models.Model):
    """A plan as data (admin-editable). Exactly one plan is the freemium default."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)
    name_ru = models.CharField(_("name in Russian"), max_length=80, blank=True)
    name_de = models.CharField(_("name in German"), max_length=80, blank=True)
    is_freemium = models.BooleanField(_("freemium default"), default=False)
    price_cents = models.PositiveIntegerField(_("price (cents)"), default=0)
    currency = models.CharField(_("currency"), max_length=3, default="usd")
    interval = models.CharField(_("billing interval"), max_length=10, default="month")
    stripe_price_id = models.CharField(_("Stripe price id"), max_length=100, blank=True)
    max_patients = models.PositiveIntegerField(
        _("patient limit"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    max_practitioners = models.PositiveIntegerField(
        _("practitioner limit"), null=True, blank=True, help_text=_("Owners and dentists. Empty: no limit.")
    )
    is_active = models.BooleanField(_("offered"), default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering: ClassVar = ["sort_order", "price_cents"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["is_freemium"], condition=Q(is_freemium=True), name="plan_one_freemium"),
            models.UniqueConstraint(
                fields=["stripe_price_id"], condition=~Q(stripe_price_id=""), name="plan_stripe_price_unique"
            ),
            models.CheckConstraint(
                condition=Q(is_freemium=True) | ~Q(stripe_price_id=""), name="plan_paid_has_stripe_price"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The name in every language while practices read it (offered, or any practice's plan)."""
        if self.is_active or (self.pk is not None and self.accounts.exists()):
            translations_require(
                self,
                "name",
                reason=_("practices read the plan's name on their Billing page while it is offered or theirs."),
            )


class PracticeAccount(models.Model):
    """A practice's billing state: its Stripe customer and subscription, and its plan."""

    practice = models.OneToOneField(Practice, on_delete=models.CASCADE, related_name="billing_account")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="accounts")
    stripe_customer_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    stripe_subscription_id = models.CharField(max_length=100, blank=True)
    subscription_status = models.CharField(max_length=30, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    # Stripe's `created` of the last subscription event applied: an older one arriving late is
    # ignored, so out-of-order events cannot roll the plan back.
    subscription_event_created = models.BigIntegerField(default=0)
    # What a partner code gave the practice for its first checkout (set once, before any payment,
    # by referrals.partners): free trial days and a Stripe coupon id. Billing only applies them.
    checkout_trial_days = models.PositiveSmallIntegerField(default=0)
    checkout_coupon_id = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("practice billing account")
        verbose_name_plural = _("practice billing accounts")

    def __str__(self) -> str:
        return f"{self.practice} ({self.plan})"


class StripeEventStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSED = "processed", _("Processed")
    IGNORED = "ignored", _("Ignored")
    FAILED = "failed", _("Failed")


class StripeEvent(models.Model):
    """The webhook inbox: every verified event, stored once (unique event id) in the request
    that received it, then processed by a task. The row is the job: `pending` until done."""

    stripe_event_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    livemode = models.BooleanField(default=False)
    api_version = models.CharField(max_length=40, blank=True)
    stripe_created = models.BigIntegerField(help_text=_("Stripe's `created` (Unix time)."))
    object_id = models.CharField(max_length=100, blank=True, db_index=True)
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=StripeEventStatus.choices, default=StripeEventStatus.PENDING)
    note = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("Stripe event")
        verbose_name_plural = _("Stripe events")
        ordering: ClassVar = ["-received_at"]
        indexes: ClassVar = [
            models.Index(fields=["received_at"], condition=Q(status="pending"), name="stripe_event_pending_idx")
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_event_id}"


class Payment(models.Model):
    """A paid invoice, keyed on Stripe's invoice id: two events about one payment (invoice.paid
    and invoice.payment_succeeded, or a retry) land on one row."""

    stripe_invoice_id = models.CharField(max_length=100, unique=True)
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="payments")
    stripe_customer_id = models.CharField(max_length=100, db_index=True)
    stripe_charge_id = models.CharField(max_length=100, blank=True, db_index=True)
    stripe_payment_intent_id = models.CharField(max_length=100, blank=True, db_index=True)
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    livemode = models.BooleanField(default=False)
    paid_at = models.DateTimeField()
    hosted_invoice_url = models.URLField(max_length=500, blank=True)
    number = models.CharField(max_length=60, blank=True)
    is_reversed = models.BooleanField(
        default=False,
        help_text=_("Disputed, or refunded by half or more: it no longer qualifies a referral reward."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering: ClassVar = ["-paid_at"]
        indexes: ClassVar = [
            # Referral analytics (channel share per month, revenue from referred practices) read
            # standing payments by date and practice from this index alone.
            models.Index(
                fields=["paid_at", "practice"],
                include=["amount_cents"],
                condition=Q(is_reversed=False),
                name="payment_standing_paid_idx",
            ),
            # Revenue from referred practices: from each (of the few) referred practices to its
            # standing payments of a date range, from this index alone (issue 14).
            models.Index(
                fields=["practice", "paid_at"],
                include=["amount_cents"],
                condition=Q(is_reversed=False),
                name="payment_standing_practice_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_invoice_id} {money(self.amount_cents, self.currency)}"


class PaymentReversal(models.Model):
    """A refund or dispute, keyed on the Stripe object that reported it. Kept even when the
    payment it reverses is not known yet (events arrive out of order)."""

    class Kind(models.TextChoices):
        REFUND = "refund", _("Refund")
        DISPUTE = "dispute", _("Dispute")

    stripe_object_id = models.CharField(max_length=100, unique=True, help_text=_("Charge or dispute id."))
    kind = models.CharField(max_length=10, choices=Kind.choices)
    stripe_customer_id = models.CharField(max_length=100, blank=True, db_index=True)
    stripe_charge_id = models.CharField(max_length=100, blank=True, db_index=True)
    stripe_payment_intent_id = models.CharField(max_length=100, blank=True, db_index=True)
    amount_cents = models.PositiveIntegerField(
        default=0, help_text=_("Refunds: the charge's total refunded so far (the highest Stripe reported).")
    )
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment reversal")
        verbose_name_plural = _("payment reversals")

    def __str__(self) -> str:
        return f"{self.kind} {self.stripe_object_id}"


class PaymentCard(models.Model):
    """A card a practice paid with, known by Stripe's card fingerprint (the same card number has
    the same fingerprint across all customers of one Stripe account). Recorded from the charges,
    payment intents, payment methods and invoices Stripe reports; how the same-card rule sees a
    referred practice paying with its referrer's card."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="payment_cards")
    fingerprint = models.CharField(max_length=64, db_index=True)
    brand = models.CharField(max_length=20, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    first_seen_on = models.CharField(max_length=100, blank=True, help_text=_("The Stripe object it was first seen on."))
    first_seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment card")
        verbose_name_plural = _("payment cards")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice", "fingerprint"], name="payment_card_one_per_practice"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return f"{self.brand or 'card'} …{self.last4}" if self.last4 else f"card {self.fingerprint[:6]}…"


class LedgerKind(models.TextChoices):
    REWARD_CREDIT = "reward_credit", _("Referral reward")
    REWARD_CLAWBACK = "reward_clawback", _("Referral reward reversed")
    REWARD_ADJUSTMENT = "reward_adjustment", _("Referral reward lowered (partial refund)")


class LedgerEntry(models.Model):
    """Append-only credit ledger of a practice. A balance is a sum; a correction is a reversing
    entry. One credit and at most one clawback per reward, by database constraint."""

    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="ledger_entries")
    # The one place billing's schema names an upper app: by string, so no code imports it. A
    # real foreign key keeps "one credit and at most one clawback per reward" a database rule.
    reward = models.ForeignKey(
        "rewards.Reward", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    kind = models.CharField(max_length=30, choices=LedgerKind.choices)
    amount_cents = models.IntegerField(help_text=_("Positive: credit to the practice. Negative: reversal."))
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=200)
    stripe_balance_transaction_id = models.CharField(max_length=100, blank=True)
    # Adjustments (a percentage reward lowered by a partial refund) can be several per reward:
    # each is keyed by what the reward is worth after it, so a repeated one is the same entry.
    adjustment_key = models.CharField(max_length=40, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["reward", "kind", "adjustment_key"], name="ledger_one_entry_per_reward_kind_and_key"
            ),
            models.CheckConstraint(condition=~Q(amount_cents=0), name="ledger_amount_nonzero"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {'+' if self.amount_cents > 0 else ''}{money(self.amount_cents, self.currency)}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise RuntimeError("Ledger entries are append-only: add a reversing entry instead.")
        super().save(*args, **kwargs)
