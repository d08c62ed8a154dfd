"""Development settings: the run command (`scripts/run.sh`), `manage.py` by default, and the
benchmarks. The embedded PostgreSQL and Redis are started by those entry points, not here."""

from dentaltap.settings.base import *  # noqa: F403

# Outbound webhooks may go to http://localhost and private addresses here (never in production).
WEBHOOKS_ALLOW_LOCAL = True
