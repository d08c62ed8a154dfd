"""Deploy checks (`manage.py check --deploy`): what only development may use is refused.

The development settings run with a known secret key, the local Stripe stand-in (its key and its
API address) and, if asked, DEBUG. A deployment with any of them would sign sessions with a
public key, or take no money, or show tracebacks to strangers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

# The keys this repository ships: settings' default and docker-compose's.
DEVELOPMENT_SECRET_KEY_PREFIX = "dev-only-insecure-"  # noqa: S105 - what is refused
STANDIN_STRIPE_KEY_PREFIX = "sk_test_dentaltap"
STRIPE_API_HOST = "api.stripe.com"


@register(Tags.security, deploy=True)
def secret_key_check(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    key = str(getattr(settings, "SECRET_KEY", ""))
    if key == getattr(settings, "DEV_SECRET_KEY", None) or key.startswith(DEVELOPMENT_SECRET_KEY_PREFIX):
        return [
            Error(
                "SECRET_KEY is the development key.",
                hint="Set DJANGO_SECRET_KEY to a long random value of your own.",
                id="dentaltap.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def stripe_standin_check(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if str(getattr(settings, "STRIPE_SECRET_KEY", "")).startswith(STANDIN_STRIPE_KEY_PREFIX):
        errors.append(
            Error(
                "STRIPE_SECRET_KEY is the local Stripe stand-in's key.",
                hint="Set STRIPE_SECRET_KEY to your Stripe account's secret key.",
                id="dentaltap.E002",
            )
        )
    api_base = str(getattr(settings, "STRIPE_API_BASE", "") or "")
    if api_base and urlparse(api_base).hostname != STRIPE_API_HOST:
        errors.append(
            Error(
                f"STRIPE_API_BASE points at a Stripe stand-in ({api_base}), not Stripe.",
                hint="Leave STRIPE_API_BASE unset: the Stripe SDK then talks to Stripe.",
                id="dentaltap.E003",
            )
        )
    return errors


@register(Tags.security, deploy=True)
def debug_check(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.DEBUG:
        return [
            Error(
                "DEBUG is on: error pages would show code and settings to anyone.",
                hint="Unset DJANGO_DEBUG.",
                id="dentaltap.E004",
            )
        ]
    return []
