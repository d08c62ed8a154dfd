"""Shared (public schema) models: users, practices (tenants), their domains and memberships."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin


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


class User(AbstractBaseUser, PermissionsMixin):
    """One account across every practice the person belongs to."""

    email = models.EmailField(_("email"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff"), default=False, help_text=_("May log in to the admin."))
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

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


class Plan(models.TextChoices):
    FREEMIUM = "freemium", _("Freemium")


class Practice(TenantMixin):
    """A dental practice: one tenant, one PostgreSQL schema."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("address"), max_length=40, unique=True)
    plan = models.CharField(_("plan"), max_length=40, choices=Plan.choices, default=Plan.FREEMIUM)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = False  # a schema is dropped on purpose (practice_delete), never by accident

    class Meta:
        verbose_name = _("practice")
        verbose_name_plural = _("practices")
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name


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


class Membership(models.Model):
    """A user's access to a practice. Lives in the public schema so one login reaches all."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=MembershipStatus.choices, default=MembershipStatus.ACTIVE
    )
    joined_via = models.CharField(_("joined via"), max_length=30, choices=JoinedVia.choices)
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
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.practice} ({self.role})"
