"""Production settings (the Docker image). The servers are never embedded here: DATABASE_URL and
REDIS_URL must be set. `manage.py check --deploy` refuses what only development may use (the dev
secret key, the Stripe stand-in's key or a local Stripe API base, DEBUG): dentaltap/checks.py."""

from django.core.exceptions import ImproperlyConfigured

from dentaltap.env import env_str
from dentaltap.settings.base import *  # noqa: F403

for _variable in ("DATABASE_URL", "REDIS_URL"):
    if not env_str(_variable):
        raise ImproperlyConfigured(f"{_variable} must be set with the production settings.")
