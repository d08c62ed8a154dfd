"""Everything that changes invitations, one module per subject: `invite` (invite one or many,
resend, revoke), `link` (is a token usable), `accept`, `seats` (the seat limit at the link),
`sending` (the email, the owed ones again, expiry). Callers import from here."""

from invitations.services.accept import invitation_accept
from invitations.services.invite import (
    InvitationBatch,
    InvitationIssue,
    emails_parse,
    invitation_create_many,
    invitation_resend,
    invitation_revoke,
    invitations_enqueue_send,
)
from invitations.services.link import (
    InvitationLinkError,
    email_mismatch_error,
    invitation_get_usable,
    invitation_lock_usable,
    invitation_mark_accepted,
)
from invitations.services.seats import (
    SEAT_NOTICE_INTERVAL,
    invitation_seat_limit_notify,
    invitation_seat_limit_refusal,
)
from invitations.services.sending import (
    invitation_email_build,
    invitation_link,
    invitation_send,
    invitations_expire,
    invitations_send_unsent,
)

__all__ = [
    "SEAT_NOTICE_INTERVAL",
    "InvitationBatch",
    "InvitationIssue",
    "InvitationLinkError",
    "email_mismatch_error",
    "emails_parse",
    "invitation_accept",
    "invitation_create_many",
    "invitation_email_build",
    "invitation_get_usable",
    "invitation_link",
    "invitation_lock_usable",
    "invitation_mark_accepted",
    "invitation_resend",
    "invitation_revoke",
    "invitation_seat_limit_notify",
    "invitation_seat_limit_refusal",
    "invitation_send",
    "invitations_enqueue_send",
    "invitations_expire",
    "invitations_send_unsent",
]
