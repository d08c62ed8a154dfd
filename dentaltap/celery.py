import os

import kombu
from celery import Celery
from celery.app.amqp import AMQP

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dentaltap.settings.local")


class BrokerConnection(kombu.Connection):
    """kombu's connection, whose `collect()` leaves nothing behind to be closed a second time.

    When the worker loses Redis, celery 5.7's consumer calls `collect()` and then `close()` on the
    lost connection. kombu's `collect()` detaches the transport (its `client` becomes None) but
    keeps the default channel, so `close()` closes that channel again; the redis transport then
    tries to give back the messages the worker holds unacknowledged (`acks_late`: any task running
    at that moment) and builds a connection pool from the detached transport: `AttributeError:
    'NoneType' object has no attribute 'hostname'` in `_connparams`. That is not a connection
    error, so the consumer does not retry: "Unrecoverable error", and the worker shuts down (or
    hangs in its shutdown) and no task runs until someone restarts it. Forgetting the channel is
    what `collect()` means: Redis is gone, nothing can be given back now; the unacknowledged
    messages stay in Redis's unacked hash and come back after the visibility timeout (if Redis
    kept them), and the running task still finishes (its ack is lost; tasks are safe to run twice).
    tests/system/test_recovery_jobs.py stops Redis under a running task and watches the same
    worker process go on."""

    def collect(self, socket_timeout: float | None = None) -> None:
        try:
            super().collect(socket_timeout)
        finally:
            self._default_channel = None


class BrokerAMQP(AMQP):
    Connection = BrokerConnection


app = Celery("dentaltap", amqp=BrokerAMQP)
app.config_from_object("django.conf:settings", namespace="CELERY")
# Read by Celery's Django fixup under this exact name: keep DB connections across tasks instead
# of closing them around every task (halves a tenant task's time).
app.conf.CELERY_DB_REUSE_MAX = 1000
app.autodiscover_tasks()
