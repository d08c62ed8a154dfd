"""Outbound webhooks (public schema): the endpoints staff configure, the outbox of events (one
row per event, written in the transaction of the change it tells of), one delivery per
(event, endpoint) and the log of every attempt at it."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrations import signing, transport


class EventType(models.TextChoices):
    REFERRAL_CREATED = "referral.created", _("Referral created")
    REFERRAL_CONVERTED = "referral.converted", _("Referral converted (first payment)")
    REWARD_EARNED = "reward.earned", _("Reward earned (credited)")
    REWARD_REVERSED = "reward.reversed", _("Reward reversed (clawed back)")
    POINTS_REDEEMED = "points.redeemed", _("Points redeemed")
    # Sent to one endpoint when staff ask (its admin page), never subscribed to.
    WEBHOOK_TEST = "webhook.test", _("Test event (sent from the admin)")


# What an endpoint may subscribe to: every type but the test event.
SUBSCRIBABLE_TYPES = [value for value in EventType.values if value != EventType.WEBHOOK_TEST]
SUBSCRIBABLE_CHOICES = [(value, label) for value, label in EventType.choices if value != EventType.WEBHOOK_TEST]


class DisabledReason(models.TextChoices):
    FAILING = "failing", _("Disabled automatically: every request kept failing")
    STAFF = "staff", _("Disabled by staff")


def endpoint_url_validate(url: str) -> None:
    problem = transport.url_problem(url)
    if problem is not None:
        raise ValidationError(problem, code="webhook_url")


def event_id_new() -> str:
    return f"evt_{uuid.uuid4().hex}"


class WebhookEndpoint(models.Model):
    """Where events go. The signing secret is generated, shown to staff once (then masked), and
    rotated with a grace period during which the previous secret signs too.

    The failure streak (`failing_since`, `failure_streak`: the first failed request since the
    last success, and how many failed since) is kept by every attempt's outcome; once it is long
    enough the endpoint disables itself (integrations.health)."""

    url = models.URLField(_("URL"), max_length=500, validators=[endpoint_url_validate])
    description = models.CharField(_("description"), max_length=200, blank=True)
    event_types = ArrayField(
        models.CharField(max_length=40, choices=SUBSCRIBABLE_CHOICES), verbose_name=_("events"), default=list
    )
    is_enabled = models.BooleanField(_("enabled"), default=True)
    disabled_reason = models.CharField(
        _("disabled because"), max_length=20, choices=DisabledReason.choices, blank=True, editable=False
    )
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True, editable=False)
    disabled_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True, editable=False)
    failure_streak = models.PositiveIntegerField(_("failed requests in a row"), default=0, editable=False)
    secret = models.CharField(_("signing secret"), max_length=100, default=signing.secret_generate, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(
        _("previous secret signs until"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering: ClassVar = ["pk"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(event_types__len__gt=0) & Q(event_types__contained_by=SUBSCRIBABLE_TYPES),
                name="webhook_endpoint_known_events",
                violation_error_message=_("events: choose at least one."),
            ),
            models.CheckConstraint(condition=~Q(secret=""), name="webhook_endpoint_has_a_secret"),
            models.CheckConstraint(
                condition=Q(previous_secret="", previous_secret_expires_at__isnull=True)
                | (~Q(previous_secret="") & Q(previous_secret_expires_at__isnull=False)),
                name="webhook_endpoint_previous_secret_expires",
            ),
            models.CheckConstraint(
                # Enabled: no reason. Disabled: the reason and the time, or neither (rows from before).
                condition=Q(disabled_reason="", disabled_at__isnull=True)
                | (Q(is_enabled=False) & ~Q(disabled_reason="") & Q(disabled_at__isnull=False)),
                name="webhook_endpoint_disabled_says_why",
            ),
            models.CheckConstraint(
                condition=Q(failure_streak=0, failing_since__isnull=True)
                | Q(failure_streak__gt=0, failing_since__isnull=False),
                name="webhook_endpoint_failure_streak_has_a_start",
            ),
        ]

    def __str__(self) -> str:
        return self.url

    def signing_secrets(self, now: Any = None) -> list[str]:
        """The secrets that sign a request now: the current one, then the previous one in its
        grace period."""
        now = now or timezone.now()
        previous = (
            [self.previous_secret]
            if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now
            else []
        )
        return [self.secret, *previous]


class WebhookEvent(models.Model):
    """One event, once: (type, key) is unique, so telling the same change twice (a retried task,
    a re-told hand-off) adds nothing. `body` is the JSON sent, byte for byte, on every attempt."""

    event_id = models.CharField(_("event id"), max_length=40, unique=True, default=event_id_new)
    type = models.CharField(_("type"), max_length=40, choices=EventType.choices)
    key = models.CharField(max_length=100, help_text=_("What it is about, e.g. reward:12."))
    body = models.TextField(_("body"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering: ClassVar = ["-created_at", "-pk"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["type", "key"], name="webhook_event_once"),
            models.CheckConstraint(condition=Q(type__in=EventType.values), name="webhook_event_type_known"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event to one endpoint (once: unique). Pending until a 2xx answer (delivered) or until
    its attempts run out (failed); staff may resend either."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        _("status"), max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True, default=timezone.now)
    leased_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(_("last answer"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering: ClassVar = ["-created_at", "-pk"]
        indexes: ClassVar = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_delivery_due_idx"),
        ]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once_per_endpoint"),
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="webhook_delivery_status_known"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint} ({self.status})"


class WebhookAttempt(models.Model):
    """One request (or one refusal to send): append-only."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(_("attempted"), default=timezone.now)
    status_code = models.PositiveIntegerField(_("answer"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    response_snippet = models.CharField(_("response (start)"), max_length=500, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")
        ordering: ClassVar = ["attempted_at", "pk"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise RuntimeError("Webhook attempts are append-only.")
        super().save(*args, **kwargs)
