"""The product's own settings: Stripe and billing, outbound webhooks, invitations and referrals,
practice schemas. A part of the shared settings (`dentaltap/settings/base.py` imports it; it
reads only the environment)."""

from dentaltap.env import env_bool, env_int, env_str

# --------------------------------------------------------------------------- Stripe and billing

# Without a real key the app talks to the local Stripe stand-in (billing/standin/), which the
# dev stack starts; tests start their own. Production sets STRIPE_SECRET_KEY and no API base
# (`manage.py check --deploy` refuses the stand-in's key and a local API base).
STRIPE_STANDIN_SECRET_KEY = "sk_test_dentaltap_standin"  # noqa: S105 - the local stand-in's
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", STRIPE_STANDIN_SECRET_KEY)
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "")
# Comma-separated: during a rotation both the old and the new signing secret are accepted.
STRIPE_WEBHOOK_SECRETS = [
    s.strip() for s in env_str("STRIPE_WEBHOOK_SECRETS", "whsec_dentaltap_dev").split(",") if s.strip()
]
STRIPE_WEBHOOK_TOLERANCE = env_int("STRIPE_WEBHOOK_TOLERANCE", 300)
STRIPE_LIVEMODE = env_bool("STRIPE_LIVEMODE", False)
# An event still pending this long after it arrived is queued again by the relay (beat).
STRIPE_EVENTS_RELAY_AFTER_SECONDS = env_int("DENTALTAP_STRIPE_RELAY_AFTER_SECONDS", 30)
# A reward credit still "being credited" this long was lost with its worker (killed outright, its
# message waits for the broker's visibility timeout): the release job queues it again. Longer than
# a credit's time limit plus its retry back-off, so a live attempt is not doubled (it would be
# harmless anyway: the credit is idempotent).
REWARD_CREDITING_STALE_SECONDS = env_int("DENTALTAP_REWARD_CREDITING_STALE_SECONDS", 600)

# --------------------------------------------------------------------------- outbound webhooks

# integrations/ (docs/staff.md, "Webhooks for integrations"). Off (production): endpoints must be
# https:// and resolve to public addresses only (the SSRF guard). On (development, tests): http://
# to localhost and private addresses are allowed too.
WEBHOOKS_ALLOW_LOCAL = env_bool("DENTALTAP_WEBHOOKS_ALLOW_LOCAL", False)
# Connect and read timeout of one request; the whole answer is read for at most twice this.
WEBHOOK_TIMEOUT_SECONDS = env_int("DENTALTAP_WEBHOOK_TIMEOUT_SECONDS", 5)
# Attempts per delivery, then "failed" (staff may resend); the back-off doubles from the base,
# capped, with jitter: 30 s, 1 min, 2 min, ... about 4 hours in all with 10 attempts.
WEBHOOK_MAX_ATTEMPTS = env_int("DENTALTAP_WEBHOOK_MAX_ATTEMPTS", 10)
WEBHOOK_RETRY_BASE_SECONDS = env_int("DENTALTAP_WEBHOOK_RETRY_BASE_SECONDS", 30)
WEBHOOK_RETRY_MAX_SECONDS = env_int("DENTALTAP_WEBHOOK_RETRY_MAX_SECONDS", 3 * 3600)
# A retry due within this is queued with a countdown; a longer wait is left to the relay (beat),
# which also queues again any pending delivery overdue by WEBHOOK_RELAY_AFTER_SECONDS.
WEBHOOK_COUNTDOWN_MAX_SECONDS = env_int("DENTALTAP_WEBHOOK_COUNTDOWN_MAX_SECONDS", 600)
WEBHOOK_RELAY_AFTER_SECONDS = env_int("DENTALTAP_WEBHOOK_RELAY_AFTER_SECONDS", 60)
# After a rotation the previous signing secret signs too for this long (staff choose, up to the max).
WEBHOOK_SECRET_GRACE_HOURS = env_int("DENTALTAP_WEBHOOK_SECRET_GRACE_HOURS", 24)
WEBHOOK_SECRET_GRACE_MAX_HOURS = 7 * 24
# An endpoint disables itself when every request to it has failed for this long AND at least
# WEBHOOK_DISABLE_MIN_FAILURES requests in a row failed (one 2xx answer resets both); staff are
# emailed at WEBHOOK_ALERT_EMAILS (comma-separated; empty: no email, the log line only).
# 0 hours: never disabled automatically.
WEBHOOK_DISABLE_AFTER_HOURS = env_int("DENTALTAP_WEBHOOK_DISABLE_AFTER_HOURS", 72)
WEBHOOK_DISABLE_MIN_FAILURES = env_int("DENTALTAP_WEBHOOK_DISABLE_MIN_FAILURES", 20)
WEBHOOK_ALERT_EMAILS = [
    s.strip() for s in env_str("DENTALTAP_WEBHOOK_ALERT_EMAILS", "staff@dentaltap.example").split(",") if s.strip()
]
# "Send a test event" sends at most one per endpoint in this many seconds (a double click sends one).
WEBHOOK_TEST_EVENT_INTERVAL_SECONDS = env_int("DENTALTAP_WEBHOOK_TEST_EVENT_INTERVAL_SECONDS", 10)

# --------------------------------------------------------------------------- invitations and referrals

INVITATION_EXPIRY_DAYS = env_int("DENTALTAP_INVITATION_EXPIRY_DAYS", 14)
INVITATION_MAX_PER_REQUEST = env_int("DENTALTAP_INVITATION_MAX_PER_REQUEST", 500)
# An invitation created this long ago and still not emailed (e.g. Redis was down) is re-queued.
INVITATION_RESEND_UNSENT_AFTER_SECONDS = env_int("DENTALTAP_INVITATION_RESEND_UNSENT_AFTER_SECONDS", 300)
REFERRAL_COOKIE_NAME = "dentaltap_ref"
REFERRAL_COOKIE_DAYS = env_int("DENTALTAP_REFERRAL_COOKIE_DAYS", 60)
# More referrals than this by one referrer in 24 hours are recorded as not eligible.
REFERRAL_VELOCITY_LIMIT_PER_DAY = env_int("DENTALTAP_REFERRAL_VELOCITY_LIMIT_PER_DAY", 20)
# An access request whose team was not told this long after it was made is notified again.
ACCESS_REQUEST_NOTIFY_UNSENT_AFTER_SECONDS = env_int("DENTALTAP_ACCESS_REQUEST_NOTIFY_UNSENT_AFTER_SECONDS", 300)

# --------------------------------------------------------------------------- practice schemas

# New practices get their schema from a pool of spares or a recorded recipe (provisioning/), not
# by running every migration; off, practice creation is django-tenants' stock one.
PROVISIONING_FAST_SCHEMAS = env_bool("DENTALTAP_FAST_SCHEMAS", True)
# Spare schemas kept ready for signups; refilled after each claim and by beat.
PROVISIONING_SPARE_SCHEMAS = env_int("DENTALTAP_SPARE_SCHEMAS", 5)
