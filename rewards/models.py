"""Referral rewards (public schema): the program's terms, one reward per referral, and the log of
everything that happened to each. Money is integer cents plus an ISO currency code.

The tables were created by `billing` and moved here with their rows (migrations 0001/0002):
ids, and so the Stripe idempotency keys built from them, are unchanged."""

from __future__ import annotations

import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models import Payment
from dentaltap.formatting import money
from referrals.models import Referral
from tenants.models import Practice


class TsTzRange(models.Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class ReferralProgram(models.Model):
    """A reward program: its rules (RewardRule) say what a referral earns and when. The default
    program whose window contains the moment applies to every referrer without an override
    (ProgramOverride); at most one default program at any moment is a database rule."""

    name = models.CharField(_("name"), max_length=80)
    currency = models.CharField(_("currency"), max_length=3, default="usd")
    starts_at = models.DateTimeField(_("starts"), default=timezone.now)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True, help_text=_("Empty: runs until stopped."))
    is_default = models.BooleanField(
        _("default program"), default=False, help_text=_("Applies to every referrer without an override.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    budget_cents = models.PositiveIntegerField(
        _("budget (cents)"),
        null=True,
        blank=True,
        help_text=_("Most the program pays in credit, all referrers together. Empty: no budget."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("referral program")
        verbose_name_plural = _("referral programs")
        ordering: ClassVar = ["-is_default", "-starts_at", "-pk"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="program_ends_after_it_starts",
                violation_error_message=_("ends: a program must end after it starts."),
            ),
            ExclusionConstraint(
                name="program_one_default_at_a_time",
                expressions=[(TsTzRange("starts_at", "ends_at", RangeBoundary()), RangeOperators.OVERLAPS)],
                condition=Q(is_default=True),
                violation_error_message=_("default program: another default program runs at the same time."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Field-named errors for the admin form (the database constraints say the same)."""
        if self.ends_at is not None and self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("A program must end after it starts.")})
        if self.is_default and self.starts_at is not None:
            overlapping = ReferralProgram.objects.filter(is_default=True).exclude(pk=self.pk)
            if self.ends_at is not None:
                overlapping = overlapping.filter(starts_at__lt=self.ends_at)
            overlapping = overlapping.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=self.starts_at))
            other = overlapping.first()
            if other is not None:
                raise ValidationError(
                    {
                        "is_default": _("Another default program (%(name)s) runs at the same time.")
                        % {"name": other.name}
                    }
                )

    def validate_constraints(self, exclude: Any = None) -> None:
        """The check constraints, as Django validates them; the one-default-at-a-time exclusion
        constraint is clean()'s (Django cannot evaluate its range expression in Python)."""
        errors: list[ValidationError] = []
        for constraint in self._meta.constraints:
            if isinstance(constraint, ExclusionConstraint):
                continue
            try:
                constraint.validate(type(self), self, exclude=exclude)
            except ValidationError as error:
                errors.append(error)
        if errors:
            raise ValidationError(errors)

    def runs_at(self, moment: datetime.datetime) -> bool:
        return self.is_active and self.starts_at <= moment and (self.ends_at is None or moment < self.ends_at)


class ProgramOverride(models.Model):
    """A referrer whose referrals earn under another program than the default one."""

    referrer = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="program_override", verbose_name=_("referrer")
    )
    program = models.ForeignKey(
        ReferralProgram, on_delete=models.PROTECT, related_name="overrides", verbose_name=_("program")
    )
    note = models.CharField(_("why"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("program override")
        verbose_name_plural = _("program overrides")

    def __str__(self) -> str:
        return f"{self.referrer} → {self.program}"


class RuleTrigger(models.TextChoices):
    SIGNUP = "signup", _("Signup")
    ACTIVATION = "activation", _("Activation")
    FIRST_PAYMENT = "first_payment", _("First payment")
    PAID_INVOICE = "paid_invoice", _("Every paid invoice")


PAYMENT_TRIGGERS = (RuleTrigger.FIRST_PAYMENT, RuleTrigger.PAID_INVOICE)


class RuleRecipient(models.TextChoices):
    REFERRER = "referrer", _("Referrer")
    REFERRED = "referred", _("Referred practice")
    BOTH = "both", _("Both (two-sided)")


class RewardRecipient(models.TextChoices):
    REFERRER = "referrer", _("Referrer")
    REFERRED = "referred", _("Referred practice")


class RuleStructure(models.TextChoices):
    FLAT = "flat", _("Flat credit")
    PERCENT = "percent", _("Percentage of the paid amount")
    POINTS = "points", _("Points")


class RuleDuration(models.TextChoices):
    ONCE = "once", _("Once")
    MONTHS = "months", _("For a number of months")
    FOREVER = "forever", _("For ever")


class CapPeriod(models.TextChoices):
    MONTH = "month", _("Month")
    YEAR = "year", _("Year")
    LIFETIME = "lifetime", _("Lifetime")


class RuleCondition(models.TextChoices):
    NONE = "none", _("Every qualifying referral")
    NTH_PAID = "nth_paid", _("The referrer's Nth paid referral")
    AT_LEAST_PAID = "at_least_paid", _("From the referrer's Nth paid referral on")


class RewardRule(models.Model):
    """One reward a program pays: on which event, to whom, how much, how often, after which
    hold, within which caps and for which tier. Rules of one tier group are alternatives: of
    those whose condition matches, the one with the highest threshold wins (as Dub's reward
    modifiers); rules of different groups (or none) all apply."""

    program = models.ForeignKey(ReferralProgram, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(_("name"), max_length=80)
    trigger = models.CharField(
        _("trigger"), max_length=20, choices=RuleTrigger.choices, default=RuleTrigger.FIRST_PAYMENT
    )
    recipient = models.CharField(
        _("recipient"), max_length=10, choices=RuleRecipient.choices, default=RuleRecipient.REFERRER
    )
    structure = models.CharField(
        _("structure"), max_length=10, choices=RuleStructure.choices, default=RuleStructure.FLAT
    )
    amount_cents = models.PositiveIntegerField(_("flat credit (cents)"), default=0)
    basis_points = models.PositiveIntegerField(
        _("percentage (basis points)"),
        default=0,
        # xgettext:no-python-format (a plain percent sign, never %-formatted)
        help_text=_("1% is 100; 100% is 10,000."),
    )
    points = models.PositiveIntegerField(_("points"), default=0)
    duration = models.CharField(_("duration"), max_length=10, choices=RuleDuration.choices, default=RuleDuration.ONCE)
    duration_months = models.PositiveSmallIntegerField(_("months"), null=True, blank=True)
    hold_days = models.PositiveSmallIntegerField(_("hold period (days)"), default=14)
    cap_period = models.CharField(_("cap period"), max_length=10, choices=CapPeriod.choices, default=CapPeriod.YEAR)
    cap_count = models.PositiveIntegerField(_("rewards per referrer per period"), null=True, blank=True)
    cap_amount_cents = models.PositiveIntegerField(_("credit per referrer per period (cents)"), null=True, blank=True)
    condition = models.CharField(
        _("condition"), max_length=20, choices=RuleCondition.choices, default=RuleCondition.NONE
    )
    threshold = models.PositiveIntegerField(_("threshold (paid referrals)"), null=True, blank=True)
    tier_group = models.CharField(
        _("tier group"),
        max_length=40,
        blank=True,
        help_text=_("Rules of one group are alternatives: the matching one with the highest threshold wins."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("reward rule")
        verbose_name_plural = _("reward rules")
        ordering: ClassVar = ["program", "trigger", "tier_group", "threshold", "pk"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(basis_points__lte=10_000),
                name="rule_percentage_at_most_100",
                violation_error_message=_("percentage: at most 100% (10,000 basis points)."),
            ),
            models.CheckConstraint(
                condition=(
                    Q(structure=RuleStructure.FLAT, amount_cents__gt=0)
                    | Q(structure=RuleStructure.PERCENT, basis_points__gt=0)
                    | Q(structure=RuleStructure.POINTS, points__gt=0)
                ),
                name="rule_structure_has_its_value",
                violation_error_message=_("structure: a flat credit, percentage or points value above zero is needed."),
            ),
            models.CheckConstraint(
                condition=~Q(structure=RuleStructure.PERCENT) | Q(trigger__in=PAYMENT_TRIGGERS),
                name="rule_percentage_needs_a_payment",
                violation_error_message=_("structure: a percentage needs a payment trigger."),
            ),
            models.CheckConstraint(
                condition=Q(condition=RuleCondition.NONE, threshold__isnull=True)
                | (~Q(condition=RuleCondition.NONE) & Q(threshold__isnull=False, threshold__gte=1)),
                name="rule_tier_has_a_threshold",
                violation_error_message=_(
                    "threshold: a tier needs a threshold of at least 1 (and only a tier has one)."
                ),
            ),
            models.CheckConstraint(
                condition=Q(duration=RuleDuration.MONTHS, duration_months__isnull=False, duration_months__gte=1)
                | (~Q(duration=RuleDuration.MONTHS) & Q(duration_months__isnull=True)),
                name="rule_months_with_a_duration_in_months",
                violation_error_message=_("months: needed (at least 1) for a duration in months, and only then."),
            ),
            models.CheckConstraint(
                condition=Q(duration=RuleDuration.ONCE) | Q(trigger=RuleTrigger.PAID_INVOICE),
                name="rule_repeats_only_on_paid_invoices",
                violation_error_message=_("duration: only a rule on every paid invoice repeats."),
            ),
            models.CheckConstraint(condition=Q(trigger__in=RuleTrigger.values), name="rule_trigger_known"),
            models.CheckConstraint(condition=Q(recipient__in=RuleRecipient.values), name="rule_recipient_known"),
            models.CheckConstraint(condition=Q(structure__in=RuleStructure.values), name="rule_structure_known"),
            models.CheckConstraint(condition=Q(duration__in=RuleDuration.values), name="rule_duration_known"),
            models.CheckConstraint(condition=Q(cap_period__in=CapPeriod.values), name="rule_cap_period_known"),
            models.CheckConstraint(condition=Q(condition__in=RuleCondition.values), name="rule_condition_known"),
        ]

    def __str__(self) -> str:
        return f"{self.program}: {self.name}"

    def clean(self) -> None:
        """Field-named errors for the admin form (the database constraints say the same)."""
        errors: dict[str, Any] = {}
        if self.basis_points > 10_000:
            errors["basis_points"] = _("At most 100% (10,000 basis points).")
        value_field = {
            RuleStructure.FLAT: ("amount_cents", self.amount_cents),
            RuleStructure.PERCENT: ("basis_points", self.basis_points),
            RuleStructure.POINTS: ("points", self.points),
        }.get(RuleStructure(self.structure) if self.structure in RuleStructure.values else RuleStructure.FLAT)
        if value_field is not None and value_field[1] <= 0 and value_field[0] not in errors:
            errors[value_field[0]] = _("Needed (above zero) for this structure.")
        if self.structure == RuleStructure.PERCENT and self.trigger not in PAYMENT_TRIGGERS:
            errors["structure"] = _("A percentage needs a payment trigger (first payment or every paid invoice).")
        if self.condition != RuleCondition.NONE and not self.threshold:
            errors["threshold"] = _("A tier needs a threshold of at least 1.")
        if self.condition == RuleCondition.NONE and self.threshold:
            errors["threshold"] = _("Only a tier has a threshold: choose its condition, or leave this empty.")
        if self.duration == RuleDuration.MONTHS and not self.duration_months:
            errors["duration_months"] = _("Needed (at least 1) for a duration in months.")
        if self.duration != RuleDuration.MONTHS and self.duration_months:
            errors["duration_months"] = _("Only for a duration in months: leave this empty.")
        if self.duration != RuleDuration.ONCE and self.trigger != RuleTrigger.PAID_INVOICE:
            errors["duration"] = _("Only a rule on every paid invoice repeats.")
        if errors:
            raise ValidationError(errors)

    @property
    def pays_money(self) -> bool:
        return self.structure != RuleStructure.POINTS

    def amount_for(self, paid_cents: int) -> int:
        """Credit (cents) this rule pays for a payment of paid_cents (flat: its amount)."""
        if self.structure == RuleStructure.FLAT:
            return self.amount_cents
        if self.structure == RuleStructure.PERCENT:
            return paid_cents * self.basis_points // 10_000
        return 0


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
    description = models.CharField(_("description"), max_length=300, blank=True)
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
