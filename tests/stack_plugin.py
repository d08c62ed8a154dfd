"""The suite's entry point for the embedded servers (loaded with `-p` from pyproject's pytest
options, so it runs before pytest-django loads the settings).

The settings never start anything. A plain `python -m pytest` without DATABASE_URL / REDIS_URL
starts the embedded PostgreSQL and Redis here, and stops what it started when the run ends
(unless DENTALTAP_KEEP_SERVERS=1). Under the test command (`scripts/test.sh`, which starts them
itself) both URLs are already set and this does nothing.
"""

from __future__ import annotations

import os

import pytest

_settings_module = os.environ.get("DJANGO_SETTINGS_MODULE")
from dentaltap import devstack  # noqa: E402

# Importing the package (dentaltap/__init__ -> celery) defaults DJANGO_SETTINGS_MODULE to the
# development settings; the suite's own module is named in pyproject.toml and must win.
if _settings_module is None:
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)

_started = pytest.StashKey[list[str]]()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    early_config.stash[_started] = devstack.ensure_environment()


def pytest_unconfigure(config: pytest.Config) -> None:
    started = config.stash.get(_started, [])
    if started and os.environ.get("DENTALTAP_KEEP_SERVERS") != "1":
        devstack.stop(started)
