"""Invitations to a practice, bound to one email address. Public schema (shared app)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.models import Practice, Role


class InvitationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Revoked")


class Invitation(models.Model):
    """An invitation of one email to one practice with one role.

    Only the SHA-256 of the token is stored; the raw token exists in the email alone. A new token
    is minted each time the email is sent (resend), which also invalidates the previous link."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="invitations")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="invitations_sent"
    )
    email = models.EmailField(_("email"))
    role = models.CharField(_("role"), max_length=30, choices=Role.choices, default=Role.ASSISTANT)
    message = models.TextField(_("personal message"), blank=True, max_length=1000)
    # The email's language for an address with no account yet (an account's own language wins).
    language = models.CharField(
        _("email language"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        _("status"), max_length=20, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    expires_at = models.DateTimeField(_("expires"))
    # The latest send asked for (create or resend) and the latest that went out: an email is owed
    # while sent_at is empty or older than send_requested_at.
    send_requested_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    send_count = models.PositiveIntegerField(default=0)
    # The invitee tried to accept, but the practice's plan had no practitioner seat left: when
    # that last happened, and when the inviter was last told (a notice is owed while the first
    # is newer than the second).
    seat_blocked_at = models.DateTimeField(_("blocked by the seat limit"), null=True, blank=True)
    seat_blocked_notified_at = models.DateTimeField(_("inviter told of the seat limit"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                "practice",
                Lower("email"),
                condition=models.Q(status="pending"),
                name="invitation_one_pending_per_practice_and_email",
            ),
            models.CheckConstraint(condition=models.Q(email=Lower("email")), name="invitation_email_lowercase"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="invitation_role_known"),
            models.CheckConstraint(
                condition=models.Q(status__in=InvitationStatus.values), name="invitation_status_known"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="accepted") | models.Q(accepted_at__isnull=False),
                name="invitation_accepted_has_time",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["status", "send_requested_at"], name="invitation_status_send_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.practice_id} ({self.status})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def effective_status(self) -> str:
        """The status as a user sees it: a pending invitation past its expiry is expired."""
        if self.status == InvitationStatus.PENDING and self.is_expired:
            return InvitationStatus.EXPIRED
        return self.status

    def get_effective_status_display(self) -> str:
        return str(InvitationStatus(self.effective_status).label)
