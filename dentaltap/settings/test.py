"""Settings for the test suite (and the processes it starts: workers, the system tier's stack):
the shared settings with the test run's values.

The embedded servers are started by the test command or the suite's pytest plugin
(tests/stack_plugin.py), never here.
"""

import os

# Read by the shared settings while they load, so they are set first. The browser tests' live
# server listens on DENTALTAP_TEST_PORT; links and CSRF origins must name the same port.
os.environ.setdefault("DENTALTAP_TEST_PORT", "8765")
os.environ["DENTALTAP_PUBLIC_PORT"] = os.environ["DENTALTAP_TEST_PORT"]
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", f"localhost:{os.environ['DENTALTAP_TEST_PORT']}")

from dentaltap.env import env_int, env_str
from dentaltap.settings.base import *  # noqa: F403
from dentaltap.settings.base import DATA_DIR, DATABASES, RATE_LIMITS, celery_broker_url, redis_url

# Users are made by the hundred: a fast hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A Redis pair of its own, so a test run never mixes with the development app's queue and cache.
REDIS_CACHE_URL = redis_url(11)
CELERY_BROKER_URL = celery_broker_url(10)
CACHES["default"]["LOCATION"] = REDIS_CACHE_URL  # noqa: F405

# Celery tasks are published to a real broker and run by a real worker in the tests that need
# one (tests/conftest.py: celery_worker); never eagerly in-process.
CELERY_TASK_ALWAYS_EAGER = False

# Live-server request threads must not keep connections open past a test: the test database is
# dropped at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = 0

# Many signups come from 127.0.0.1: generous limits. The rate-limit tests set their own.
RATE_LIMITS = {
    scope: {kind: (attempts * 1000, window) for kind, (attempts, window) in limits.items()}
    for scope, limits in RATE_LIMITS.items()
}

PROVISIONING_SPARE_SCHEMAS = env_int("DENTALTAP_SPARE_SCHEMAS", 3)

EMAIL_FILE_PATH = env_str("DENTALTAP_MAIL_DIR", str(DATA_DIR / "test-mail"))

# Webhook signing secrets for the suite (tests/stripe_helpers.py signs with these); two of them
# because a rotation accepts the previous one too.
STRIPE_WEBHOOK_SECRETS = ["whsec_test_current", "whsec_test_previous"]
# The webhook tests' receivers listen on 127.0.0.1 over http (the SSRF guard's tests turn this off).
WEBHOOKS_ALLOW_LOCAL = True

# Stripe is the local stand-in; tests that call it start one and point STRIPE_API_BASE at it.
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "http://127.0.0.1:9/unreachable-unless-a-test-starts-the-stand-in")
