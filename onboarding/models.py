"""Milestones (public schema): the first time a practice did something, recorded once."""

from __future__ import annotations

from typing import ClassVar

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from tenants.models import Practice


class MilestoneKey(models.TextChoices):
    PRACTICE_CREATED = "practice_created", _("Practice created")
    FIRST_PATIENT = "first_patient", _("First patient")
    FIRST_APPOINTMENT_BOOKED = "first_appointment_booked", _("First appointment booked")
    FIRST_APPOINTMENT_COMPLETED = "first_appointment_completed", _("First appointment completed")
    FIRST_COLLEAGUE_INVITED = "first_colleague_invited", _("First colleague invited")
    FIRST_COLLEAGUE_JOINED = "first_colleague_joined", _("First colleague joined")
    FIRST_PAYMENT = "first_payment", _("First payment (plan upgraded)")
    FIRST_REFERRAL_SENT = "first_referral_sent", _("First referral sent")
    ACTIVATED = "activated", _("Activated")


class PracticeMilestone(models.Model):
    """Written once (INSERT ... ON CONFLICT DO NOTHING, onboarding.services.milestone_record) and
    never moved: deleting the patient or retrying the event later changes nothing."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="milestones")
    key = models.CharField(_("milestone"), max_length=40, choices=MilestoneKey.choices)
    reached_at = models.DateTimeField(_("reached"))
    recorded_at = models.DateTimeField(_("recorded"), db_default=Now())
    # The listeners (lifecycle emails, reward programs) heard of it: the outbox flag. Empty while
    # they are owed; the beat job milestones_notify_missed retries what a dead process left.
    notified_at = models.DateTimeField(_("listeners told"), null=True, blank=True)

    class Meta:
        verbose_name = _("practice milestone")
        verbose_name_plural = _("practice milestones")
        ordering: ClassVar = ["practice_id", "reached_at", "id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice", "key"], name="milestone_once_per_practice_and_key"),
            models.CheckConstraint(condition=models.Q(key__in=MilestoneKey.values), name="milestone_key_known"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["key", "reached_at"], name="milestone_key_reached_idx"),
            models.Index(
                fields=["recorded_at"], name="milestone_notify_owed_idx", condition=models.Q(notified_at__isnull=True)
            ),
            # activation_sweep: the milestones recorded in the last minutes.
            models.Index(fields=["recorded_at"], name="milestone_recorded_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.practice_id}: {self.key} at {self.reached_at:%Y-%m-%d %H:%M}"


class ActivationRule(models.Model):
    """What "activated" means, as data (one row, edited by staff in the admin): at least
    `minimum_patients` patients and `minimum_completed_appointments` completed appointments, and
    every milestone in `required_milestones`, within `within_days` of signup."""

    minimum_patients = models.PositiveIntegerField(_("at least this many patients"), default=3)
    minimum_completed_appointments = models.PositiveIntegerField(
        _("at least this many completed appointments"), default=1
    )
    required_milestones = ArrayField(
        models.CharField(max_length=40, choices=MilestoneKey.choices),
        default=list,
        blank=True,
        verbose_name=_("and these milestones"),
    )
    within_days = models.PositiveIntegerField(_("within this many days of signup"), default=14)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("activation rule")
        verbose_name_plural = _("activation rule")
        constraints: ClassVar = [
            models.CheckConstraint(condition=models.Q(pk=1), name="activation_rule_single_row"),
            models.CheckConstraint(condition=models.Q(within_days__gte=1), name="activation_rule_window_positive"),
            models.CheckConstraint(
                condition=~models.Q(required_milestones__contains=[MilestoneKey.ACTIVATED])
                & models.Q(required_milestones__contained_by=MilestoneKey.values),
                name="activation_rule_milestones_known",
            ),
        ]

    def __str__(self) -> str:
        return str(_("Activation rule"))


class ChecklistPreference(models.Model):
    """The practice owner hid the overview checklist."""

    practice = models.OneToOneField(Practice, on_delete=models.CASCADE, related_name="+")
    hidden_at = models.DateTimeField(_("checklist hidden"), null=True, blank=True)

    class Meta:
        verbose_name = _("checklist preference")
        verbose_name_plural = _("checklist preferences")

    def __str__(self) -> str:
        return f"{self.practice_id}: hidden {self.hidden_at}"
