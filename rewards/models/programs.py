"""Programs and their rules: what a referral pays, to whom, when, within which caps."""

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

from dentaltap.translated import translations_missing_errors


class TsTzRange(models.Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class ReferralProgram(models.Model):
    """A reward program: its rules (RewardRule) say what a referral earns and when. The default
    program whose window contains the moment applies to every referrer without an override
    (ProgramOverride); at most one default program at any moment is a database rule."""

    name = models.CharField(_("name"), max_length=80)
    name_ru = models.CharField(_("name in Russian"), max_length=80, blank=True)
    name_de = models.CharField(_("name in German"), max_length=80, blank=True)
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
        """Field-named errors for the admin form (the database constraints say the same), and
        the name in every language while dentists read it (active, or it has rewarded them)."""
        if self.ends_at is not None and self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("A program must end after it starts.")})
        errors: dict[str, Any] = {}
        if self.is_default and self.starts_at is not None:
            overlapping = ReferralProgram.objects.filter(is_default=True).exclude(pk=self.pk)
            if self.ends_at is not None:
                overlapping = overlapping.filter(starts_at__lt=self.ends_at)
            overlapping = overlapping.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=self.starts_at))
            other = overlapping.first()
            if other is not None:
                errors["is_default"] = _("Another default program (%(name)s) runs at the same time.") % {
                    "name": other.name
                }
        if self.is_active or (self.pk is not None and self.rewards.exists()):
            reason = _(
                "referrers read the program's name on their Refer colleagues page while it is active or has "
                "rewarded them."
            )
            errors.update(translations_missing_errors(self, "name", reason=reason))
        if errors:
            raise ValidationError(errors)

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


class PartnerProgram(models.Model):
    """A partner whose code-attributed practices earn under this program (their account is the
    referrer); the partner's account's own referral links keep the referrer's program."""

    partner = models.OneToOneField(
        "referrals.Partner", on_delete=models.CASCADE, related_name="program_link", verbose_name=_("partner")
    )
    program = models.ForeignKey(
        ReferralProgram, on_delete=models.PROTECT, related_name="partner_links", verbose_name=_("program")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("partner program")
        verbose_name_plural = _("partner programs")

    def __str__(self) -> str:
        return f"{self.partner} → {self.program}"


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


class PayoutMethod(models.TextChoices):
    CREDIT = "credit", _("Account credit (Stripe balance)")
    CASH = "cash", _("Cash payout (affiliate, recorded by staff)")


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
    name_ru = models.CharField(_("name in Russian"), max_length=80, blank=True)
    name_de = models.CharField(_("name in German"), max_length=80, blank=True)
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
    payout = models.CharField(
        _("paid as"),
        max_length=10,
        choices=PayoutMethod.choices,
        default=PayoutMethod.CREDIT,
        help_text=_("Cash: an affiliate's revenue share, owed in their statement and paid out by staff."),
    )
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
            models.CheckConstraint(
                condition=Q(payout=PayoutMethod.CREDIT)
                | (~Q(structure=RuleStructure.POINTS) & Q(recipient=RuleRecipient.REFERRER)),
                name="rule_cash_pays_the_referrer_money",
                violation_error_message=_("paid as: cash is paid to the referrer, and never as points."),
            ),
            models.CheckConstraint(condition=Q(payout__in=PayoutMethod.values), name="rule_payout_known"),
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
        if self.payout == PayoutMethod.CASH and self.structure == RuleStructure.POINTS:
            errors["payout"] = _("Points cannot be paid out in cash.")
        elif self.payout == PayoutMethod.CASH and self.recipient != RuleRecipient.REFERRER:
            errors["payout"] = _("Cash is paid to the referrer (the affiliate) only.")
        if self.is_active:
            errors.update(
                translations_missing_errors(
                    self, "name", reason=_("referrers read an active rule's name when they reach its cap.")
                )
            )
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
