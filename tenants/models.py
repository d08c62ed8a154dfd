"""Shared (public schema) models: users, practices (tenants), their domains and memberships."""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin

from tenants.handoffs import practice_plan


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


def normalize_email(email: str) -> str:
    """Emails are stored lower-cased and trimmed: one mailbox, one account."""
    return email.strip().lower()


def validate_time_zone(value: str) -> None:
    """An IANA time zone name this machine knows (Europe/Moscow, America/New_York, UTC)."""
    if value not in time_zone_names():
        raise ValidationError(
            _("%(value)s is not a time zone we know. Use a name like Europe/Berlin or America/New_York."),
            code="invalid_time_zone",
            params={"value": value},
        )


@functools.cache
def time_zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class User(AbstractBaseUser, PermissionsMixin):
    """One account across every practice the person belongs to."""

    email = models.EmailField(_("email"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff"), default=False, help_text=_("May log in to the admin."))
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    # The language the person chose (or was first seen with); it wins over the browser's on every
    # host and device, and their emails go out in it. Empty: not known yet (tenants/languages.py).
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, blank=True, default="")

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["full_name"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints: ClassVar = [
            models.UniqueConstraint(Lower("email"), name="user_email_case_insensitive_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Practice(TenantMixin):
    """A dental practice: one tenant, one PostgreSQL schema."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("address"), max_length=40, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # Appointment times are shown and entered in this zone on the practice's pages and emails.
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text=_("Appointment times are shown and entered in this time zone, e.g. Europe/Berlin."),
    )

    # A practice restored from an archive (offboarding) is the same practice as the one the
    # archive was made from: this names the original signup (the first of a chain of restores),
    # so figures about signups (the onboarding cohorts) count it once, as the original.
    restored_from = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("restored from"),
    )

    auto_create_schema = True
    auto_drop_schema = False  # a schema is dropped on purpose (practice_delete), never by accident

    class Meta:
        verbose_name = _("practice")
        verbose_name_plural = _("practices")
        ordering: ClassVar = ["name"]
        indexes: ClassVar = [
            models.Index(
                fields=["restored_from"],
                name="practice_restored_from_idx",
                condition=models.Q(restored_from__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return self.name

    def _check_schema_name_is_unique(self) -> None:
        """django-tenants compares UPPER(schema_name) here, which no index serves: a scan of every
        practice on each signup (issue 14). Practice schema names are lower case by construction
        (tenants.services) and unique by index, so for them the exact, indexed lookup is the
        same check; anything else gets django-tenants' own."""
        if self.schema_name != self.schema_name.lower():
            super()._check_schema_name_is_unique()  # type: ignore[misc]
        elif type(self).objects.filter(schema_name=self.schema_name).exists():
            raise ValidationError(f"A tenant with the schema name '{self.schema_name}' already exists.")

    @property
    def plan(self) -> str:
        """The code of the practice's current plan. Billing owns plans and answers through
        tenants.handoffs (reads only; freemium when the account row is missing)."""
        return practice_plan(self).code

    @property
    def plan_name(self) -> str:
        return practice_plan(self).name


class Domain(DomainMixin):
    class Meta:
        verbose_name = _("domain")
        verbose_name_plural = _("domains")

    def __str__(self) -> str:
        return self.domain


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    PRACTICE_ADMIN = "practice_admin", _("Practice admin")
    DENTIST = "dentist", _("Dentist")
    ASSISTANT = "assistant", _("Assistant")
    RECEPTIONIST = "receptionist", _("Receptionist")
    GUEST = "guest", _("Guest")


class MembershipStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    REVOKED = "revoked", _("Revoked")


class JoinedVia(models.TextChoices):
    CREATED_PRACTICE = "created_practice", _("Created the practice")
    INVITATION = "invitation", _("Invitation")
    REFERRAL_LINK = "referral_link", _("Referral link")
    ADDED_BY_STAFF = "added_by_staff", _("Added by staff")


class PermissionCode(models.TextChoices):
    """What a member may do in a practice. Roles are templates over these (tenants/access.py)."""

    VIEW_PATIENTS = "view_patients", _("View patients")
    EDIT_PATIENTS = "edit_patients", _("Edit patients")
    VIEW_SCHEDULE = "view_schedule", _("View the schedule")
    MANAGE_SCHEDULE = "manage_schedule", _("Manage the schedule")
    VIEW_BILLING = "view_billing", _("View billing")
    MANAGE_BILLING = "manage_billing", _("Manage billing")
    INVITE_COLLEAGUES = "invite_colleagues", _("Invite colleagues")
    MANAGE_TEAM = "manage_team", _("Manage the team")


class Membership(models.Model):
    """A user's access to a practice. Lives in the public schema so one login reaches all.

    Effective permissions = the role's template + granted_permissions - revoked_permissions,
    while status is active and expires_at (if any) is in the future."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=MembershipStatus.choices, default=MembershipStatus.ACTIVE
    )
    joined_via = models.CharField(_("joined via"), max_length=30, choices=JoinedVia.choices)
    granted_permissions = ArrayField(
        models.CharField(max_length=40, choices=PermissionCode.choices),
        default=list,
        blank=True,
        verbose_name=_("extra permissions"),
    )
    revoked_permissions = ArrayField(
        models.CharField(max_length=40, choices=PermissionCode.choices),
        default=list,
        blank=True,
        verbose_name=_("withheld permissions"),
    )
    expires_at = models.DateTimeField(_("access expires"), null=True, blank=True)
    last_active_at = models.DateTimeField(_("last active"), null=True, blank=True)
    created_at = models.DateTimeField(_("since"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "practice"], name="membership_one_per_user_and_practice"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="membership_role_known"),
            models.CheckConstraint(
                condition=models.Q(status__in=MembershipStatus.values), name="membership_status_known"
            ),
            models.CheckConstraint(
                condition=models.Q(granted_permissions__contained_by=PermissionCode.values)
                & models.Q(revoked_permissions__contained_by=PermissionCode.values),
                name="membership_permissions_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.practice} ({self.role})"


class AccessAction(models.TextChoices):
    JOINED = "joined", _("Joined")
    CHANGED = "changed", _("Access changed")
    SUSPENDED = "suspended", _("Suspended")
    RESTORED = "restored", _("Restored")
    REVOKED = "revoked", _("Revoked")
    LEFT = "left", _("Left the practice")
    OWNERSHIP_TRANSFERRED = "ownership_transferred", _("Ownership transferred")
    SETTING_CHANGED = "setting_changed", _("Practice setting changed")


class AccessChange(models.Model):
    """Append-only audit of every change to who may do what in a practice: members' access,
    and the practice settings that decide who gets in (no member then: `before`/`after` hold
    {"setting": name, "value": ...})."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="access_changes")
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="access_changes_made")
    member = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="access_changes_received")
    membership = models.ForeignKey(Membership, on_delete=models.SET_NULL, null=True, related_name="changes")
    action = models.CharField(_("action"), max_length=30, choices=AccessAction.choices)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    ip_address = models.GenericIPAddressField(_("from IP"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("access change")
        verbose_name_plural = _("access changes")
        ordering: ClassVar = ["-created_at", "-id"]
        indexes: ClassVar = [models.Index(fields=["practice", "-created_at"], name="access_change_practice_idx")]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.member} @ {self.practice}"
