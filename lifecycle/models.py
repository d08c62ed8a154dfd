"""Lifecycle emails (public schema): steps as data, one scheduled row per (practice, step,
recipient) for ever (the sent-record), and who unsubscribed."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from onboarding.models import MilestoneKey
from tenants.models import PermissionCode, Practice


class LifecycleStep(models.Model):
    """An email sent `delay_hours` after `trigger_milestone`, unless `awaited_milestone` (the
    thing it nudges towards) is reached first, to the members who hold `recipient_permission`."""

    key = models.SlugField(_("key"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=120)
    is_active = models.BooleanField(_("sending"), default=True)
    trigger_milestone = models.CharField(_("after this milestone"), max_length=40, choices=MilestoneKey.choices)
    delay_hours = models.PositiveIntegerField(_("hours after it"), default=24)
    awaited_milestone = models.CharField(
        _("unless this milestone is reached first"), max_length=40, choices=MilestoneKey.choices, blank=True
    )
    recipient_permission = models.CharField(
        _("to members who may"), max_length=40, choices=PermissionCode.choices, default=PermissionCode.MANAGE_TEAM
    )
    action_path = models.CharField(
        _("page the email links to"), max_length=200, default="/", help_text=_("A path on the practice's host.")
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("lifecycle email step")
        verbose_name_plural = _("lifecycle email steps")
        ordering: ClassVar = ["trigger_milestone", "delay_hours", "key"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(trigger_milestone__in=MilestoneKey.values), name="lifecycle_step_trigger_known"
            ),
            models.CheckConstraint(
                condition=~models.Q(awaited_milestone=models.F("trigger_milestone")),
                name="lifecycle_step_awaits_something_else",
            ),
            models.CheckConstraint(condition=models.Q(action_path__startswith="/"), name="lifecycle_step_path"),
        ]

    def __str__(self) -> str:
        return self.name


class LifecycleStepText(models.Model):
    """A step's subject and body in one language (Django template text, checked when saved)."""

    step = models.ForeignKey(LifecycleStep, on_delete=models.CASCADE, related_name="texts")
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("text"))

    class Meta:
        verbose_name = _("text")
        verbose_name_plural = _("texts")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["step", "language"], name="lifecycle_text_one_per_language"),
        ]

    def __str__(self) -> str:
        return f"{self.step} ({self.language})"


class LifecycleMessageStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")


class LifecycleMessage(models.Model):
    """One step for one recipient in one practice: at most one row ever (the unique constraint),
    so the step is sent at most once, whatever retries or schedules again."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    step = models.ForeignKey(LifecycleStep, on_delete=models.CASCADE, related_name="messages")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    due_at = models.DateTimeField(_("due"))
    status = models.CharField(
        _("status"), max_length=20, choices=LifecycleMessageStatus.choices, default=LifecycleMessageStatus.SCHEDULED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    language = models.CharField(_("language"), max_length=10, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    created_at = models.DateTimeField(_("scheduled"), auto_now_add=True)

    class Meta:
        verbose_name = _("lifecycle email")
        verbose_name_plural = _("lifecycle emails")
        ordering: ClassVar = ["-due_at", "-id"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "step", "recipient"], name="lifecycle_message_once_per_practice_step_recipient"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=LifecycleMessageStatus.values), name="lifecycle_message_status_known"
            ),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["due_at"],
                name="lifecycle_message_due_idx",
                condition=models.Q(status=LifecycleMessageStatus.SCHEDULED),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.step} → {self.recipient_id} @ {self.practice_id} ({self.status})"

    @property
    def message_id(self) -> str:
        """The same Message-ID on every attempt: a resend after a crash is one message to mail
        systems that deduplicate."""
        return f"<lifecycle-{self.pk}@{settings.BASE_DOMAIN}>"


class LifecycleUnsubscribe(models.Model):
    """This person gets no more lifecycle emails, from any practice."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(_("unsubscribed"), auto_now_add=True)

    class Meta:
        verbose_name = _("lifecycle email unsubscribe")
        verbose_name_plural = _("lifecycle email unsubscribes")

    def __str__(self) -> str:
        return str(self.user_id)
