"""The settings modules start nothing when imported, and the deploy checks refuse what only
development may use (the dev secret key, the Stripe stand-in, DEBUG)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from dentaltap import checks

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_LIKE = {
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghij",
    "STRIPE_SECRET_KEY": "sk_live_dentaltap_example",
    "STRIPE_API_BASE": "",
    "DEBUG": False,
}
PROBE = """
import django, json
from django.conf import settings
django.setup()
print(json.dumps({"host": settings.DATABASES["default"]["HOST"], "broker": settings.CELERY_BROKER_URL}))
"""


def _import_settings(module: str, data_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE=module, DENTALTAP_DATA_DIR=str(data_dir), **extra)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.mark.parametrize("module", ["dentaltap.settings.local", "dentaltap.settings.test"])
def test_importing_the_settings_without_database_url_starts_nothing(module: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = _import_settings(module, data_dir)
    assert result.returncode == 0, result.stderr
    assert "[devstack]" not in result.stderr  # no server was started (or even looked for)
    assert not data_dir.exists()  # the embedded servers' folder was never made
    assert '"host": ""' in result.stdout  # the placeholder URL: the default socket, nothing of ours


def test_the_production_settings_refuse_to_load_without_database_and_redis_urls(tmp_path: Path) -> None:
    result = _import_settings("dentaltap.settings.production", tmp_path / "data")
    assert result.returncode != 0
    assert "DATABASE_URL must be set with the production settings" in result.stderr
    assert not (tmp_path / "data").exists()


def test_the_production_settings_load_with_urls(tmp_path: Path) -> None:
    result = _import_settings(
        "dentaltap.settings.production",
        tmp_path / "data",
        DATABASE_URL="postgres://app@db.example:5432/dentaltap",
        REDIS_URL="redis://cache.example:6379/0",
    )
    assert result.returncode == 0, result.stderr
    assert '"host": "db.example"' in result.stdout and "redis://cache.example:6379/0" in result.stdout


# --------------------------------------------------------------------------- deploy checks


def _ids(messages: list[object]) -> set[str]:
    return {str(getattr(message, "id", "")) for message in messages}


def test_a_production_like_configuration_passes_the_deploy_checks() -> None:
    with override_settings(**PRODUCTION_LIKE):
        assert checks.secret_key_check() == []
        assert checks.stripe_standin_check() == []
        assert checks.debug_check() == []
        call_command("check", deploy=True, fail_level="ERROR", verbosity=0)  # no SystemCheckError


@pytest.mark.parametrize(
    "key", ["dev-only-insecure-secret-key-change-me-in-production", "dev-only-insecure-compose-secret-key"]
)
def test_the_development_secret_key_is_refused(key: str) -> None:
    with override_settings(**{**PRODUCTION_LIKE, "SECRET_KEY": key}):
        assert _ids(checks.secret_key_check()) == {"dentaltap.E001"}
        with pytest.raises(SystemCheckError, match=r"dentaltap\.E001"):
            call_command("check", deploy=True, verbosity=0)


def test_the_stripe_standin_key_is_refused() -> None:
    with override_settings(**{**PRODUCTION_LIKE, "STRIPE_SECRET_KEY": "sk_test_dentaltap_standin"}):
        assert _ids(checks.stripe_standin_check()) == {"dentaltap.E002"}
        with pytest.raises(SystemCheckError, match=r"dentaltap\.E002"):
            call_command("check", deploy=True, verbosity=0)


@pytest.mark.parametrize("api_base", ["http://127.0.0.1:12111", "http://stripe-standin:12111", "http://localhost"])
def test_a_standin_stripe_api_base_is_refused(api_base: str) -> None:
    with override_settings(**{**PRODUCTION_LIKE, "STRIPE_API_BASE": api_base}):
        assert _ids(checks.stripe_standin_check()) == {"dentaltap.E003"}
        with pytest.raises(SystemCheckError, match=r"dentaltap\.E003"):
            call_command("check", deploy=True, verbosity=0)


def test_stripes_own_api_base_is_accepted() -> None:
    with override_settings(**{**PRODUCTION_LIKE, "STRIPE_API_BASE": "https://api.stripe.com"}):
        assert checks.stripe_standin_check() == []


def test_debug_is_refused() -> None:
    with override_settings(**{**PRODUCTION_LIKE, "DEBUG": True}):
        assert _ids(checks.debug_check()) == {"dentaltap.E004"}
        with pytest.raises(SystemCheckError, match=r"dentaltap\.E004"):
            call_command("check", deploy=True, verbosity=0)


def test_the_checks_run_only_when_deploying() -> None:
    """A plain `check` (every manage.py command runs it) accepts the development values."""
    with override_settings(**{**PRODUCTION_LIKE, "SECRET_KEY": "dev-only-insecure-x", "DEBUG": True}):
        call_command("check", verbosity=0)
