"""DentalTap settings shared by every environment, read from environment variables (12-factor).

The modules beside this one add what differs: `local` (development, the run command, the
benchmarks), `test` (the suite) and `production` (the Docker image). Importing any of them starts
nothing: the entry points (`manage.py`, `python -m dentaltap.devstack run|test`, the suite's
pytest plugin `tests/stack_plugin.py`) start the embedded PostgreSQL and Redis when
DATABASE_URL / REDIS_URL are unset and put their URLs in the environment before Django reads it.

Grouped by subject; a new setting goes into its subject's section, not at the end. Logins and
rate limits, the product's settings, the API and Celery are in modules of their own beside this one.
"""

from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from csp import constants as csp_constants
from django.utils.translation import gettext_lazy as _

from dentaltap import config, database, logs
from dentaltap.env import env_bool, env_int, env_str

# Subjects with modules of their own, each reading only the environment: logins and rate limits,
# the product's settings (Stripe, webhooks, invitations and referrals, practice schemas), the API,
# Celery.
from dentaltap.settings.api import *  # noqa: F403
from dentaltap.settings.logins import *  # noqa: F403
from dentaltap.settings.logins import TRUSTED_PROXY_COUNT
from dentaltap.settings.product import *  # noqa: F403
from dentaltap.settings.product import STRIPE_API_BASE, STRIPE_SECRET_KEY
from dentaltap.settings.worker import *  # noqa: F403
from dentaltap.settings.worker import CELERY_BEAT_SCHEDULE

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# --------------------------------------------------------------------------- environment and hosts

# Unset, these name servers that are not there: nothing here starts one (see the docstring).
DATABASE_URL = env_str("DATABASE_URL") or "postgres:///dentaltap"
REDIS_URL = env_str("REDIS_URL") or "redis://localhost:6379/0"

DEBUG = env_bool("DJANGO_DEBUG", False)
# The development key; `manage.py check --deploy` refuses it (dentaltap/checks.py).
DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-in-production"  # noqa: S105 - development only
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEV_SECRET_KEY)

BASE_DOMAIN = config.base_domain()
PUBLIC_SCHEME = config.public_scheme()
PUBLIC_PORT = config.public_port()
ALLOWED_HOSTS = [BASE_DOMAIN, f".{BASE_DOMAIN}", *env_str("DJANGO_EXTRA_ALLOWED_HOSTS", "").split(",")]
ALLOWED_HOSTS = [host for host in ALLOWED_HOSTS if host]
DATA_DIR = config.data_dir()

# --------------------------------------------------------------------------- apps and tenancy

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "onboarding",  # milestones and activation: just above tenants, so every app can record
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "invitations",
    "referrals",
    "billing",
    "rewards",
    "provisioning",
    "lifecycle",  # onboarding emails, cohorts, backfill: reads across apps, below only the doors
    "accounts",  # the doors (signup, login), no models
    "integrations",  # outbound webhooks: hears referrals and rewards
    "offboarding",  # export, delete and restore one practice (staff): the top of the layer order
    "axes",  # failed-login tracking (dentaltap/login_protection.py); after auth, as Axes asks
    "csp",  # Content-Security-Policy (CONTENT_SECURITY_POLICY below): its system checks
    "dentaltap",  # the shared kit: its system checks (dentaltap/checks.py)
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "practice",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Practice"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "dentaltap.urls_public"
ROOT_URLCONF = "dentaltap.urls_tenant"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
# One `SET search_path` per request (or tenant switch) instead of one before every query: a round
# trip saved per query. django-tenants 4 re-issues it after a rollback or a reconnect.
TENANT_LIMIT_SET_CALLS = True
# Host -> practice lookups are cached in-process (tenants.routing): up to _MAX_SECONDS while the
# generation token in Redis (read every _CHECK_SECONDS) says nothing changed, _SECONDS while Redis
# cannot be read; at most _MAX_ENTRIES hosts per process. 0 seconds: no cache.
TENANT_HOST_CACHE_SECONDS = env_int("DENTALTAP_TENANT_HOST_CACHE_SECONDS", 30)
TENANT_HOST_CACHE_MAX_SECONDS = env_int("DENTALTAP_TENANT_HOST_CACHE_MAX_SECONDS", 3600)
TENANT_HOST_GENERATION_CHECK_SECONDS = float(env_int("DENTALTAP_TENANT_HOST_GENERATION_CHECK_SECONDS", 1))
TENANT_HOST_CACHE_MAX_ENTRIES = env_int("DENTALTAP_TENANT_HOST_CACHE_MAX_ENTRIES", 50_000)

# --------------------------------------------------------------------------- requests and pages

MIDDLEWARE = [
    "dentaltap.middleware.HealthCheckMiddleware",
    # The request id (X-Request-ID) and one log line per request (dentaltap/logs.py).
    "dentaltap.logs.RequestContextMiddleware",
    # Stripe's webhook answers here, past routing, sessions and auth it does not use, with the
    # same answer headers (issue 14).
    "billing.middleware.StripeWebhookMiddleware",
    # Before routing, so even the unknown-host page and static files carry the policy.
    "csp.middleware.CSPMiddleware",
    "tenants.middleware.CachedTenantMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: static files keep their cache lifetimes, everything else is no-store.
    "dentaltap.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A signed-in user's stored language wins over the cookie and the browser (tenants/languages.py).
    "tenants.languages.UserLanguageMiddleware",
    # On a practice host, times are in the practice's time zone.
    "tenants.languages.PracticeTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tenants.middleware.PracticeAccessMiddleware",
    # Last, as Axes asks: turns a refused login into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # First, so the shared templates (admin, error pages) override the apps' own.
        "DIRS": [BASE_DIR / "dentaltap" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.site",
                "invitations.context_processors.growth_nav",
                "referrals.context_processors.referral_nav",
                "django.template.context_processors.i18n",
            ],
            # Money, dates and rates: dentaltap/formatting.py, `{% load formatting %}`.
            "libraries": {"formatting": "dentaltap.templatetags.formatting"},
        },
    },
]

WSGI_APPLICATION = "dentaltap.wsgi.application"

# --------------------------------------------------------------------------- database, Redis, cache


# django-tenants' backend, able to run behind PgBouncer in transaction mode (dentaltap/database/,
# docs/operations.md): DENTALTAP_PGBOUNCER_POOL_MODE=session|transaction when DATABASE_URL names one.
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        engine=database.ENGINE,
        conn_max_age=env_int("DJANGO_CONN_MAX_AGE", 300),
        conn_health_checks=True,
    )
    | database.pooled_database_settings(env_str("DENTALTAP_PGBOUNCER_POOL_MODE"))
}
if env_str("DENTALTAP_DATABASE_NAME"):
    # A worker process started by the test suite joins the suite's test database.
    DATABASES["default"]["NAME"] = env_str("DENTALTAP_DATABASE_NAME")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def redis_url(db: int) -> str:
    """REDIS_URL with the given logical database (so cache, broker and tests do not mix)."""
    parsed = urlparse(REDIS_URL)
    if parsed.scheme == "unix":
        return f"unix://{parsed.path}?db={db}"
    return parsed._replace(path=f"/{db}").geturl()


def celery_broker_url(db: int) -> str:
    """REDIS_URL as Celery's broker URL for the given logical database."""
    parsed = urlparse(REDIS_URL)
    if parsed.scheme == "unix":
        return f"redis+socket://{parsed.path}?virtual_host={db}"
    return parsed._replace(path=f"/{db}").geturl()


# Broker and cache use separate logical databases (the test settings use their own pair).
REDIS_CACHE_URL = redis_url(1)
CELERY_BROKER_URL = celery_broker_url(0)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_CACHE_URL,
        # Every key carries the current schema: no cache entry is shared across practices.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
    }
}

# --------------------------------------------------------------------------- sessions and cookies

SESSION_ENGINE = "django.contrib.sessions.backends.db"
# One login reaches every practice: the session and CSRF cookies cover the subdomains.
SESSION_COOKIE_DOMAIN = f".{BASE_DOMAIN}" if "." in BASE_DOMAIN else None
CSRF_COOKIE_DOMAIN = SESSION_COOKIE_DOMAIN
SESSION_COOKIE_SECURE = PUBLIC_SCHEME == "https"
CSRF_COOKIE_SECURE = PUBLIC_SCHEME == "https"
SESSION_COOKIE_HTTPONLY = True
_port_suffix = f":{PUBLIC_PORT}" if PUBLIC_PORT not in ("", "80", "443") else ""
CSRF_TRUSTED_ORIGINS = [
    f"{PUBLIC_SCHEME}://{BASE_DOMAIN}{_port_suffix}",
    f"{PUBLIC_SCHEME}://*.{BASE_DOMAIN}{_port_suffix}",
]

# --------------------------------------------------------------------------- security headers and TLS

if not DEBUG:
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
# Behind a TLS-terminating proxy (load balancer, ingress) that sets X-Forwarded-Proto.
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if PUBLIC_SCHEME == "https":
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True

# --------------------------------------------------------------------------- content security policy

# Content-Security-Policy on every answer (django-csp 4): only our own scripts, styles, images,
# fonts and connections. No inline script exists, and none may: the API docs load Swagger UI's
# init script from a URL (SpectacularSwaggerSplitView); inline style attributes became classes
# in dentaltap/static/css/app.css. `data:` images are Pico's and Swagger UI's CSS icons.
# Forms may post to the base domain and the practice hosts (logout from a practice posts to the
# base domain) and lead on to Stripe's checkout and billing portal (the local stand-in in
# development and tests).
_STRIPE_FORM_TARGETS = (
    ["http://127.0.0.1:*", "http://localhost:*"]
    if STRIPE_SECRET_KEY.startswith("sk_test_dentaltap")
    else ["https://checkout.stripe.com", "https://billing.stripe.com"]
)
if STRIPE_API_BASE:
    _STRIPE_FORM_TARGETS.append(urlparse(STRIPE_API_BASE)._replace(path="", query="").geturl())
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF],
        "style-src": [csp_constants.SELF],
        "img-src": [csp_constants.SELF, "data:"],
        "font-src": [csp_constants.SELF],
        "connect-src": [csp_constants.SELF],
        "object-src": [csp_constants.NONE],
        "base-uri": [csp_constants.NONE],
        "frame-ancestors": [csp_constants.NONE],
        "form-action": [csp_constants.SELF, *CSRF_TRUSTED_ORIGINS, *_STRIPE_FORM_TARGETS],
    },
}

# --------------------------------------------------------------------------- languages and formats

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("de", _("German")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# English as we write it (day first, 24 h); other languages use Django's own formats.
FORMAT_MODULE_PATH = ["dentaltap.formats"]
# The switcher's choice holds on the public site and every practice host, like the session.
LANGUAGE_COOKIE_NAME = "dentaltap_language"
LANGUAGE_COOKIE_DOMAIN = SESSION_COOKIE_DOMAIN
LANGUAGE_COOKIE_SECURE = PUBLIC_SCHEME == "https"
LANGUAGE_COOKIE_AGE = 60 * 60 * 24 * 365

# --------------------------------------------------------------------------- static files

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# dentaltap/static is found as the `dentaltap` app's static folder (no STATICFILES_DIRS).
# Hashed, compressed files from collectstatic in production images (DJANGO_STATIC_MANIFEST=1);
# straight from the app folders in development and tests.
STATIC_MANIFEST = env_bool("DJANGO_STATIC_MANIFEST", (STATIC_ROOT / "staticfiles.json").exists())
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
if WHITENOISE_USE_FINDERS:
    STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every request about a missing root
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not WHITENOISE_USE_FINDERS
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --------------------------------------------------------------------------- email

EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("DJANGO_EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = env_int("DJANGO_EMAIL_TIMEOUT", 10)
EMAIL_FILE_PATH = env_str("DENTALTAP_MAIL_DIR", str(DATA_DIR / "mail"))
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "DentalTap <hello@dentaltap.example>")

# --------------------------------------------------------------------------- logging

# dentaltap/logs.py: DENTALTAP_LOG_FORMAT=json for one JSON object a line (request id, practice,
# user id, task id and name; tokens and email addresses redacted), plain text otherwise. The
# request id of a proxy in front (X-Request-ID) is taken when proxies are trusted.
LOG_FORMAT = env_str("DENTALTAP_LOG_FORMAT", "plain")
LOG_TRUST_REQUEST_ID = env_bool("DENTALTAP_LOG_TRUST_REQUEST_ID", TRUSTED_PROXY_COUNT > 0)
# One line per request (method, path without its query, status, duration): with JSON, or asked for.
LOG_REQUESTS = env_bool("DENTALTAP_LOG_REQUESTS", LOG_FORMAT == "json")
LOGGING = logs.logging_settings(
    log_format=LOG_FORMAT,
    level=env_str("DJANGO_LOG_LEVEL", "WARNING"),
    info_loggers=["dentaltap", "tenants", "invitations", "referrals", "provisioning"],
)
# A worker logs through the same handler (Celery would replace the root logger's with its own).
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"

# ---- onboarding to first value (issue 12) -----------------------------------------------------

# Lifecycle emails go out inside these local hours of the recipient ([first, last)), in the
# deployment's time zone until users carry one of their own.
LIFECYCLE_TIME_ZONE = env_str("DENTALTAP_LIFECYCLE_TIME_ZONE", "Europe/Berlin")
LIFECYCLE_SEND_HOURS = (env_int("DENTALTAP_LIFECYCLE_FIRST_HOUR", 9), env_int("DENTALTAP_LIFECYCLE_LAST_HOUR", 18))
# A milestone whose listeners (lifecycle emails, reward programs) were not told this long after it
# was recorded (its process died, a listener failed) is told by beat; after this many hours, never.
ONBOARDING_NOTIFY_OWED_SECONDS = env_int("DENTALTAP_ONBOARDING_NOTIFY_OWED_SECONDS", 120)
ONBOARDING_NOTIFY_GIVE_UP_HOURS = env_int("DENTALTAP_ONBOARDING_NOTIFY_GIVE_UP_HOURS", 48)
CELERY_BEAT_SCHEDULE["onboarding-milestones-notify-missed"] = {
    "task": "onboarding.tasks.milestones_notify_missed",
    "schedule": float(env_int("DENTALTAP_BEAT_ONBOARDING_NOTIFY_SECONDS", 300)),
}
# A process trusts what it read of a young practice's milestones this long to decide "not
# activated yet" without a query; the sweep re-checks practices with a milestone recorded in the
# last ..._WITHIN_SECONDS, which must exceed the trust plus the sweep's interval (onboarding.services).
ONBOARDING_MILESTONE_SNAPSHOT_SECONDS = env_int("DENTALTAP_ONBOARDING_MILESTONE_SNAPSHOT_SECONDS", 10)
_ACTIVATION_SWEEP_SECONDS = env_int("DENTALTAP_BEAT_ONBOARDING_ACTIVATION_SWEEP_SECONDS", 60)
ONBOARDING_ACTIVATION_SWEEP_WITHIN_SECONDS = ONBOARDING_MILESTONE_SNAPSHOT_SECONDS + 5 * _ACTIVATION_SWEEP_SECONDS
CELERY_BEAT_SCHEDULE["onboarding-activation-sweep"] = {
    "task": "onboarding.tasks.activation_sweep",
    "schedule": float(_ACTIVATION_SWEEP_SECONDS),
}
CELERY_BEAT_SCHEDULE["lifecycle-send-due"] = {
    "task": "lifecycle.tasks.lifecycle_send_due",
    "schedule": float(env_int("DENTALTAP_BEAT_LIFECYCLE_SECONDS", 60)),
}
# A deleted practice's Stripe customer is deleted after the commit; beat retries what is owed.
CELERY_BEAT_SCHEDULE["offboarding-customers-delete-owed"] = {
    "task": "offboarding.tasks.practice_customers_delete_owed",
    "schedule": float(env_int("DENTALTAP_BEAT_OFFBOARDING_SECONDS", 600)),
}
LOGGING["loggers"].update({app: {"level": "INFO"} for app in ("onboarding", "lifecycle", "offboarding")})  # type: ignore[attr-defined]
