"""Referral codes, link visits, referrals (who brought whom) and access requests from public
links. Public schema (shared app): their constraints hold across every practice."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.models import Practice, Role


class ReferralCode(models.Model):
    """A user's personal referral code: `/r/<code>` on the base domain."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="referral_code")
    code = models.CharField(_("code"), max_length=32, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("referral code")
        verbose_name_plural = _("referral codes")

    def __str__(self) -> str:
        return self.code


class ReferralVisit(models.Model):
    """One opening of a referral link (the top of the funnel)."""

    referral_code = models.ForeignKey(ReferralCode, on_delete=models.CASCADE, related_name="visits")
    visited_at = models.DateTimeField(_("visited"), auto_now_add=True, db_index=True)
    referer = models.CharField(_("referring page"), max_length=500, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    landing_path = models.CharField(_("landing path"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("referral link visit")
        verbose_name_plural = _("referral link visits")
        ordering: ClassVar = ["-visited_at"]
        indexes: ClassVar = [
            # A referrer's visit count (index-only scan) and their visits per week.
            models.Index(fields=["referral_code", "visited_at"], name="referral_visit_code_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.referral_code_id} @ {self.visited_at:%Y-%m-%d %H:%M}"


class ReferralSource(models.TextChoices):
    INVITATION = "invitation", _("Invitation")
    LINK = "link", _("Referral link")
    PARTNER = "partner", _("Partner code")
    MANUAL = "manual", _("Staff attribution")


class ReferralStatus(models.TextChoices):
    SIGNED_UP = "signed_up", _("Signed up")
    # Later issues (billing) move a referral on: converted (first payment), rewarded, reversed.


class Eligibility(models.TextChoices):
    ELIGIBLE = "eligible", _("Eligible")
    INELIGIBLE = "ineligible", _("Not eligible")
    REVIEW = "review", _("Needs review")


class EligibilityReason(models.TextChoices):
    NONE = "", _("None")
    SELF_REFERRAL = "self_referral", _("Self-referral")
    EMAIL_REGISTERED = "email_registered", _("Email already registered")
    DISPOSABLE_EMAIL = "disposable_email", _("Disposable email domain")
    VELOCITY_LIMIT = "velocity_limit", _("Too many referrals in a short time")
    SHARED_IP = "shared_ip", _("Signed up from the referrer's network")
    SAME_CARD = "same_card", _("Paid with the referrer's card")
    REJECTED_BY_STAFF = "staff_rejected", _("Rejected by staff")


class RiskLevel(models.TextChoices):
    """Fraud signals combined (referrals/risk.py, docs/staff.md): only high holds a reward."""

    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class Referral(models.Model):
    """Who brought whom. A user is referred at most once (database rule)."""

    referrer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referrals_made")
    referred_user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="referral_received"
    )
    referred_practice = models.ForeignKey(
        Practice, on_delete=models.SET_NULL, null=True, blank=True, related_name="referrals"
    )
    source = models.CharField(_("source"), max_length=20, choices=ReferralSource.choices)
    invitation = models.ForeignKey(
        "invitations.Invitation", on_delete=models.SET_NULL, null=True, blank=True, related_name="referrals"
    )
    referral_code = models.ForeignKey(
        ReferralCode, on_delete=models.SET_NULL, null=True, blank=True, related_name="referrals"
    )
    # A partner code that attributed the practice (source "partner"): its partner's program pays.
    partner_code = models.ForeignKey(
        "referrals.PartnerCode", on_delete=models.PROTECT, null=True, blank=True, related_name="referrals"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=ReferralStatus.choices, default=ReferralStatus.SIGNED_UP
    )
    eligibility = models.CharField(_("eligibility"), max_length=20, choices=Eligibility.choices)
    eligibility_reason = models.CharField(
        _("reason"), max_length=30, choices=EligibilityReason.choices, blank=True, default=""
    )
    eligibility_note = models.CharField(_("reason details"), max_length=300, blank=True)
    # Where the newcomer signed up from: compared with the referrer's own addresses (fraud review).
    signup_ip = models.GenericIPAddressField(_("signup IP address"), null=True, blank=True)
    # Fraud signals seen at signup and at payment, each {"code", "points", "detail"}; the score is
    # their sum and the level follows from it (referrals/risk.py). Staff-only.
    # Database defaults too: bulk SQL (the analytics seed) inserts rows without them.
    risk_level = models.CharField(
        _("risk level"), max_length=10, choices=RiskLevel.choices, default=RiskLevel.LOW, db_default=RiskLevel.LOW
    )
    risk_score = models.PositiveSmallIntegerField(_("risk score"), default=0, db_default=0)
    risk_signals = models.JSONField(_("risk signals"), default=list, blank=True, db_default=[])
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    # The referred practice's first standing payment (one not refunded or disputed): when the
    # referral converted and for how much. Kept by rewards whenever billing records or reverses a
    # payment of the practice (rewards/conversions.py), so the staff analytics count conversions
    # from these rows instead of searching the payments (issue 14). Empty while nothing stands.
    converted_at = models.DateTimeField(_("converted"), null=True, blank=True)
    first_paid_amount_cents = models.PositiveIntegerField(_("first payment (cents)"), null=True, blank=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=models.Q(source__in=ReferralSource.values), name="referral_source_known"),
            models.CheckConstraint(
                condition=models.Q(eligibility__in=Eligibility.values), name="referral_eligibility_known"
            ),
            models.CheckConstraint(
                condition=models.Q(eligibility="eligible", eligibility_reason="")
                | (~models.Q(eligibility="eligible") & ~models.Q(eligibility_reason="")),
                name="referral_reason_iff_not_eligible",
            ),
            models.CheckConstraint(
                condition=~models.Q(source="invitation") | models.Q(invitation__isnull=False),
                name="referral_invitation_source_has_invitation",
            ),
            models.CheckConstraint(
                condition=models.Q(risk_level__in=RiskLevel.values), name="referral_risk_level_known"
            ),
            models.CheckConstraint(
                condition=~models.Q(source="partner") | models.Q(partner_code__isnull=False),
                name="referral_partner_source_has_code",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["referrer", "created_at"], name="referral_referrer_time_idx"),
            # Staff analytics: cohorts and top referrers of a date range from this index alone.
            models.Index(
                fields=["created_at"],
                include=("referrer", "source", "eligibility", "converted_at"),
                name="referral_cohort_idx",
            ),
            # The staff review queue: flagged referrals nobody has decided on yet.
            models.Index(
                fields=["created_at"],
                condition=models.Q(reviewed_at__isnull=True) & ~models.Q(eligibility="eligible"),
                name="referral_review_queue_idx",
            ),
            # Analytics: referred practices joined to their payments.
            models.Index(
                fields=["referred_practice", "created_at"],
                condition=models.Q(referred_practice__isnull=False),
                name="referral_practice_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.referred_user_id} ({self.source})"


class AccessRequestStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class AccessRequest(models.Model):
    """A newcomer from a public referral link asking to join the referrer's practice. Public
    links never open a practice by themselves: an owner (MANAGE_TEAM) approves or declines."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="access_requests")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_requests")
    referral = models.ForeignKey(Referral, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(
        _("status"), max_length=20, choices=AccessRequestStatus.choices, default=AccessRequestStatus.PENDING
    )
    granted_role = models.CharField(_("granted role"), max_length=30, choices=Role.choices, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    notified_at = models.DateTimeField(_("owners notified"), null=True, blank=True)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)

    class Meta:
        verbose_name = _("access request")
        verbose_name_plural = _("access requests")
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "requester"],
                condition=models.Q(status="pending"),
                name="access_request_one_pending_per_practice_and_user",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=AccessRequestStatus.values), name="access_request_status_known"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="approved") | ~models.Q(granted_role=""),
                name="access_request_approved_names_role",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.requester_id} → {self.practice_id} ({self.status})"


class PracticeReferralSettings(models.Model):
    """Per-practice growth settings. Kept here, one-to-one with the practice, so the tenants
    app's Practice stays small. No row means the defaults."""

    practice = models.OneToOneField(Practice, on_delete=models.CASCADE, related_name="referral_settings")
    links_grant_guest_access = models.BooleanField(
        _("referral links grant guest access at once"),
        default=False,
        help_text=_(
            "Off: newcomers from your members' referral links ask for access and you approve. "
            "On: they join at once as guests (no patient data unless you widen the role)."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("practice referral settings")
        verbose_name_plural = _("practice referral settings")

    def __str__(self) -> str:
        return f"{self.practice_id}: links grant guest = {self.links_grant_guest_access}"


class ReferrerAddress(models.Model):
    """An IP address a user was seen at (signing up, opening their referral page). A newcomer
    signing up from one of these is flagged for review: it may be a colleague in the same
    clinic, or the referrer farming rewards with a second account."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    ip_address = models.GenericIPAddressField(_("IP address"))
    first_seen_at = models.DateTimeField(_("first seen"), auto_now_add=True)

    class Meta:
        verbose_name = _("referrer address")
        verbose_name_plural = _("referrer addresses")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "ip_address"], name="referrer_address_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.ip_address}"


class ShareChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    WHATSAPP = "whatsapp", "WhatsApp"
    TELEGRAM = "telegram", "Telegram"
    LINKEDIN = "linkedin", "LinkedIn"
    X = "x", "X"
    FACEBOOK = "facebook", "Facebook"


LINK_PLACEHOLDER = "{link}"


class ReferralMessageTemplate(models.Model):
    """A ready-to-send message for one channel and language, edited by staff in the admin.
    `{link}` is replaced by the user's referral link; a template without it is refused (form
    validation, and a database check so no other path can store one)."""

    channel = models.CharField(_("channel"), max_length=20, choices=ShareChannel.choices)
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, help_text=_("A language code, e.g. en, de, ru.")
    )
    subject = models.CharField(_("subject (email only)"), max_length=150, blank=True)
    text = models.TextField(_("text"), help_text=_("Must contain {link}, where the referral link goes."))
    is_active = models.BooleanField(_("offered"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("referral message template")
        verbose_name_plural = _("referral message templates")
        ordering: ClassVar = ["channel", "language"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["channel", "language"], name="referral_template_one_per_channel_language"),
            models.CheckConstraint(
                condition=models.Q(channel__in=ShareChannel.values), name="referral_template_channel_known"
            ),
            models.CheckConstraint(
                condition=models.Q(text__contains=LINK_PLACEHOLDER),
                name="referral_template_text_has_link",
                violation_error_message=_("The text must contain {link}: that is where the referral link goes."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} ({self.language})"

    def clean(self) -> None:
        # The same rule as the check constraint, reported beside the field in forms.
        if LINK_PLACEHOLDER not in (self.text or ""):
            raise ValidationError(
                {"text": _("The text must contain {link}: that is where the referral link goes.")},
                code="missing_link",
            )


class ReferralAnalytics(Referral):
    """No table: puts "Referral analytics" in the staff admin's index, linking to the page."""

    class Meta:
        proxy = True
        verbose_name = _("referral analytics")
        verbose_name_plural = _("referral analytics")


# Partners, their codes and the staff attribution log live in their own module (by subject).
from referrals.models_partners import (  # noqa: E402
    AttributionChange,
    Partner,
    PartnerCode,
    PartnerCodeBatch,
    PartnerCodeKind,
    PartnerRedemption,
    PartnerRedemptionPlace,
)

__all__ = [
    "AccessRequest",
    "AccessRequestStatus",
    "AttributionChange",
    "Eligibility",
    "EligibilityReason",
    "Partner",
    "PartnerCode",
    "PartnerCodeBatch",
    "PartnerCodeKind",
    "PartnerRedemption",
    "PartnerRedemptionPlace",
    "PracticeReferralSettings",
    "Referral",
    "ReferralAnalytics",
    "ReferralCode",
    "ReferralMessageTemplate",
    "ReferralSource",
    "ReferralStatus",
    "ReferralVisit",
    "ReferrerAddress",
    "RiskLevel",
    "ShareChannel",
]
