"""Helpers for the lifecycle email tests."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

from django.apps import apps
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

MARKER_VARIABLE = "DENTALTAP_TEST_MAIL_MARKER"


def default_steps_ensure() -> None:
    """The steps the data migration creates (a committing test before this one flushed them)."""
    import importlib

    migration = importlib.import_module("lifecycle.migrations.0002_default_steps")
    migration.create_steps(apps, None)


class MailServerThatHangs(BaseEmailBackend):
    """A mail server that takes the message and never answers: the worker process using it is
    killed mid-send by the test. It writes down what it was given first."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        with open(os.environ[MARKER_VARIABLE], "w") as marker:
            json.dump([dict(message.extra_headers) for message in email_messages], marker)
        time.sleep(600)
        return 0


def worker_send_due_with_hanging_mail_server(marker: str, now: Any) -> Any:
    """Run in a forked child: its own database connection, the hanging mail server."""
    from django.conf import settings
    from django.db import connections

    connections.close_all()
    os.environ[MARKER_VARIABLE] = marker
    settings.EMAIL_BACKEND = "tests.lifecycle_support.MailServerThatHangs"
    from lifecycle.services import lifecycle_send_due

    lifecycle_send_due(now=now)
