"""Partners (a dental supplier handing out codes offline, as Moleskine did for Evernote), their
code batches, codes and redemptions, and the log of staff attributions. Public schema; imported
by `referrals.models`, so every name is reachable from there.

The rules (docs/staff.md, "Partner codes and manual attribution"):
- A batch is one shared code (many practices, up to its maximum) or N single-use codes.
- A practice redeems at most one partner code (database rule), at signup or on the Billing page
  before its first payment; the code's benefit (a longer trial, a Stripe coupon) goes on the
  practice's billing account for its checkout.
- First touch wins: the code attributes the practice to the partner only when no referral link
  or invitation did; otherwise the practice keeps its referrer and still gets the benefit."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.models import Practice

BATCH_SIZE_MAX = 10_000
TRIAL_DAYS_MAX = 365


class Partner(models.Model):
    """Someone who brings practices with codes rather than links. Their rewards go to their own
    DentalTap account (its home practice is credited), under the partner's program."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="partnerships",
        verbose_name=_("partner's account"),
        help_text=_("The DentalTap account that receives the partner's rewards."),
    )
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Codes of an inactive partner are refused."))
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name


class PartnerCodeKind(models.TextChoices):
    SHARED = "shared", _("One shared code")
    SINGLE_USE = "single_use", _("Single-use codes")


class PartnerCodeBatch(models.Model):
    """Codes handed out together (a trade fair, a mailing) with one benefit and one expiry."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="batches", verbose_name=_("partner"))
    label = models.CharField(_("label"), max_length=120, help_text=_("Where the codes go, e.g. “Dental fair 2026”."))
    kind = models.CharField(_("kind"), max_length=20, choices=PartnerCodeKind.choices, default=PartnerCodeKind.SHARED)
    size = models.PositiveIntegerField(
        _("number of codes"), default=1, help_text=_("Single-use codes: how many to generate. A shared code: 1.")
    )
    max_redemptions = models.PositiveIntegerField(
        _("maximum redemptions"),
        null=True,
        blank=True,
        help_text=_("A shared code: how many practices may use it (empty: no limit). Single-use codes: 1 each."),
    )
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    trial_days = models.PositiveSmallIntegerField(
        _("trial days"), default=0, help_text=_("Free days at checkout before the first payment (0: none).")
    )
    stripe_coupon_id = models.CharField(
        _("Stripe coupon"), max_length=100, blank=True, help_text=_("Applied at checkout, e.g. SUPPLIER20.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("partner code batch")
        verbose_name_plural = _("partner code batches")
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(kind__in=PartnerCodeKind.values), name="partner_batch_kind_known"
            ),
            models.CheckConstraint(
                condition=models.Q(size__gte=1, size__lte=BATCH_SIZE_MAX),
                name="partner_batch_size_in_range",
                violation_error_message=_("A batch holds between 1 and 10,000 codes."),
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="shared") | models.Q(size=1),
                name="partner_batch_shared_is_one_code",
                violation_error_message=_("A shared code is one code."),
            ),
            models.CheckConstraint(
                condition=models.Q(max_redemptions__isnull=True) | models.Q(max_redemptions__gte=1),
                name="partner_batch_max_redemptions_positive",
                violation_error_message=_("The maximum redemptions must be at least 1."),
            ),
            models.CheckConstraint(
                condition=models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=models.F("created_at")),
                name="partner_batch_expires_in_future",
                violation_error_message=_("The expiry must be in the future."),
            ),
            models.CheckConstraint(
                condition=models.Q(trial_days__lte=TRIAL_DAYS_MAX),
                name="partner_batch_trial_days_in_range",
                violation_error_message=_("A trial is at most 365 days."),
            ),
            models.CheckConstraint(
                condition=models.Q(trial_days__gt=0) | ~models.Q(stripe_coupon_id=""),
                name="partner_batch_has_benefit",
                violation_error_message=_("Give the codes a benefit: trial days or a Stripe coupon."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner}: {self.label}"

    def clean(self) -> None:
        """The constraints' rules, each beside its field (the admin form shows them)."""
        errors: dict[str, Any] = {}
        if self.size is not None and not 1 <= self.size <= BATCH_SIZE_MAX:
            errors["size"] = _("A batch holds between 1 and 10,000 codes.")
        elif self.kind == PartnerCodeKind.SHARED and self.size != 1:
            errors["size"] = _("A shared code is one code.")
        if self.max_redemptions is not None and self.max_redemptions < 1:
            errors["max_redemptions"] = _("The maximum redemptions must be at least 1.")
        if self.expires_at is not None and self.expires_at <= (self.created_at or timezone.now()):
            errors["expires_at"] = _("The expiry must be in the future.")
        if self.trial_days is not None and self.trial_days > TRIAL_DAYS_MAX:
            errors["trial_days"] = _("A trial is at most 365 days.")
        if not self.trial_days and not (self.stripe_coupon_id or "").strip():
            errors["trial_days"] = _("Give the codes a benefit: trial days or a Stripe coupon.")
        if errors:
            raise ValidationError(errors)

    def validate_constraints(self, exclude: Any = None) -> None:
        # clean() reports these beside their fields; the constraints stay the database's rule.
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as error:
            if not hasattr(error, "error_dict"):
                raise
            error.error_dict.pop("__all__", None)
            if error.error_dict:
                raise


class PartnerCode(models.Model):
    """One code as typed by a practice (stored normalized: upper case, no separators)."""

    batch = models.ForeignKey(PartnerCodeBatch, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(_("code"), max_length=32, unique=True)
    max_redemptions = models.PositiveIntegerField(_("maximum redemptions"), null=True, blank=True)
    redemptions = models.PositiveIntegerField(_("redemptions"), default=0)

    class Meta:
        verbose_name = _("partner code")
        verbose_name_plural = _("partner codes")
        constraints: ClassVar = [
            # The count is raised under the row's lock; this is the rule should anything else write.
            models.CheckConstraint(
                condition=models.Q(max_redemptions__isnull=True)
                | models.Q(redemptions__lte=models.F("max_redemptions")),
                name="partner_code_redemptions_within_max",
            ),
            models.CheckConstraint(condition=models.Q(code__regex=r"^[A-Z0-9]{6,32}$"), name="partner_code_normalized"),
        ]

    def __str__(self) -> str:
        return self.code


class PartnerRedemptionPlace(models.TextChoices):
    SIGNUP = "signup", _("At signup")
    BILLING = "billing", _("On the Billing page")


class PartnerRedemption(models.Model):
    """A practice used a partner code: at most one per practice (database rule)."""

    code = models.ForeignKey(PartnerCode, on_delete=models.PROTECT, related_name="uses", verbose_name=_("code"))
    practice = models.OneToOneField(Practice, on_delete=models.CASCADE, related_name="partner_redemption")
    redeemed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    place = models.CharField(_("where"), max_length=20, choices=PartnerRedemptionPlace.choices)
    # False when a referral link or an invitation came first (first touch wins): benefit only.
    attributed = models.BooleanField(_("attributed to the partner"))
    redeemed_at = models.DateTimeField(_("redeemed"), auto_now_add=True)

    class Meta:
        verbose_name = _("partner code redemption")
        verbose_name_plural = _("partner code redemptions")
        ordering: ClassVar = ["-redeemed_at"]

    def __str__(self) -> str:
        return f"{self.code} → {self.practice_id}"


class AttributionChange(models.Model):
    """Staff said who brought a practice ("Dr. X sent me"): who, when, why, before and after.
    Append-only: written by `referrals.manual_attribution.attribution_assign` only."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+", verbose_name=_("practice"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("changed by")
    )
    changed_at = models.DateTimeField(_("changed"), auto_now_add=True)
    reason = models.CharField(_("reason"), max_length=500)
    before = models.CharField(_("before"), max_length=300)
    after = models.CharField(_("after"), max_length=300)
    overrode = models.BooleanField(_("replaced an attribution"), default=False)

    class Meta:
        verbose_name = _("attribution change")
        verbose_name_plural = _("attribution changes")
        ordering: ClassVar = ["-changed_at"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=~models.Q(reason=""), name="attribution_change_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.practice_id}: {self.before} → {self.after}"
