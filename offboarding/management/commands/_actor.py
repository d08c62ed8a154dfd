"""Who runs a command: named in the operation log as the command and the OS user."""

from __future__ import annotations

import getpass

from django.core.management.base import CommandError

from dentaltap.errors import ApplicationError
from offboarding.services import Actor


def command_actor(command: str) -> Actor:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        who = "unknown"
    return Actor(user=None, label=f"manage.py {command} ({who})")


def refused(error: ApplicationError) -> CommandError:
    return CommandError(error.message)
