"""Settings for the test suite: the real settings, with test-run values set first."""

import os

os.environ["DENTALTAP_TESTING"] = "1"
# The browser tests' live server listens here; links and CSRF origins must name the same port.
os.environ.setdefault("DENTALTAP_TEST_PORT", "8765")
os.environ["DENTALTAP_PUBLIC_PORT"] = os.environ["DENTALTAP_TEST_PORT"]
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", f"localhost:{os.environ['DENTALTAP_TEST_PORT']}")
_data_dir = os.environ.get("DENTALTAP_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", ".data"))
os.environ.setdefault("DENTALTAP_MAIL_DIR", os.path.join(_data_dir, "test-mail"))

from dentaltap.settings import *  # noqa: E402, F403

# Celery tasks are published to a real broker and run by a real worker in the tests that need
# one (tests/conftest.py: celery_worker); never eagerly in-process.
CELERY_TASK_ALWAYS_EAGER = False

# Live-server request threads must not keep connections open past a test: the test database is
# dropped at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

# Webhook signing secrets for the suite (tests/stripe_helpers.py signs with these); two of them
# because a rotation accepts the previous one too.
STRIPE_WEBHOOK_SECRETS = ["whsec_test_current", "whsec_test_previous"]
# Stripe is the local stand-in; tests that call it start one and point STRIPE_API_BASE at it.
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "http://127.0.0.1:9/unreachable-unless-a-test-starts-the-stand-in")
