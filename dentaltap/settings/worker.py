"""Celery: the broker connection, the worker and beat's schedule. A part of the shared settings
(`dentaltap/settings/base.py` imports it; it reads only the environment). The broker URL itself
is with the database and Redis in base.py."""

from dentaltap.env import env_int

# --------------------------------------------------------------------------- Celery and beat

CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
# Redis outages (docs/architecture.md, "What recovers what"): the worker and beat reconnect for as
# long as it takes; celery's default gives up after 100 attempts (about 50 minutes at its 30 s
# back-off) and the worker exits. The worker surviving the loss itself is dentaltap/celery.py.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# A task running when the connection is lost finishes (its ack is lost with the connection; every
# task is safe to run twice) instead of being killed mid-way, which celery 6 will make the
# default: a credit cut off while Stripe applies it would wait 10 minutes for the release job.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# A dead broker must not hang a request: publishing gives up quickly (outboxes retry later), and a
# timed-out command is not retried (`retry_on_timeout`): a frozen Redis answers nothing. TCP
# keepalive finds a connection whose peer vanished (no RST); connections idle longer than the
# health-check interval are pinged before use (kombu's default, said here).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": 2,
    "socket_connect_timeout": 2,
    "socket_keepalive": True,
    "retry_on_timeout": False,
    "health_check_interval": 25,
    "visibility_timeout": 3600,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_TASK_ALWAYS_EAGER = False


def _every(variable: str, default_seconds: int) -> float:
    return float(env_int(variable, default_seconds))


# The recovery and housekeeping jobs. Intervals come from the environment so a system test can
# run the real schedule fast; tests/project/test_beat_schedule.py checks that every entry can be applied.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "billing-stripe-events-relay": {
        "task": "billing.tasks.stripe_events_relay",
        "schedule": _every("DENTALTAP_BEAT_RELAY_SECONDS", 60),
    },
    "billing-rewards-release-due": {
        "task": "billing.tasks.rewards_release_due",
        "schedule": _every("DENTALTAP_BEAT_RELEASE_SECONDS", 60),
    },
    "invitations-send-unsent": {
        "task": "invitations.tasks.invitations_send_unsent",
        "schedule": _every("DENTALTAP_BEAT_INVITATIONS_SECONDS", 300),
    },
    "referrals-access-requests-notify-unsent": {
        "task": "referrals.tasks.access_requests_notify_unsent",
        "schedule": _every("DENTALTAP_BEAT_ACCESS_REQUESTS_SECONDS", 300),
    },
    "invitations-expire": {
        "task": "invitations.tasks.invitations_expire",
        "schedule": _every("DENTALTAP_BEAT_INVITATIONS_EXPIRE_SECONDS", 3600),
    },
    "provisioning-spare-schemas-refill": {
        "task": "provisioning.tasks.spare_schemas_refill",
        "schedule": _every("DENTALTAP_BEAT_SPARE_SCHEMAS_SECONDS", 60),
    },
    "integrations-webhook-deliveries-relay": {
        "task": "integrations.tasks.webhook_deliveries_relay",
        "schedule": _every("DENTALTAP_BEAT_WEBHOOKS_SECONDS", 60),
    },
}
