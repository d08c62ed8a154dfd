"""Browser tests: Playwright driving Debian's Chromium (never a downloaded browser).

The `browser` fixture starts the live server and Chromium; data a test needs must be committed
before it starts (fixtures that create it come first in the test's arguments), from this
thread's normal context: Playwright's sync API then runs an event loop in this thread."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = os.environ.get("DENTALTAP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# pytestmark for browser test modules. Without Chromium they fail (tests/conftest.py checks
# before their fixtures run) unless DENTALTAP_SKIP_BROWSER_TESTS=1 leaves them out of the run.
BROWSER_MARKS = [pytest.mark.browser]
SKIP_BROWSER_TESTS_VARIABLE = "DENTALTAP_SKIP_BROWSER_TESTS"


def browser_tests_opted_out() -> bool:
    return os.environ.get(SKIP_BROWSER_TESTS_VARIABLE) == "1"


def chromium_missing_message() -> str | None:
    """Why the browser tests cannot run here, or None when Chromium is there."""
    if shutil.which(CHROMIUM):
        return None
    return (
        f"Chromium is not installed at {CHROMIUM}: the browser tests cannot run. scripts/test.sh installs "
        f"Debian's chromium; DENTALTAP_CHROMIUM names another binary; {SKIP_BROWSER_TESTS_VARIABLE}=1 "
        "leaves the browser tests out of the run."
    )


def base_url() -> str:
    return f"http://dentaltap.localhost:{os.environ['DENTALTAP_TEST_PORT']}"


def practice_address(slug: str) -> str:
    return f"http://{slug}.dentaltap.localhost:{os.environ['DENTALTAP_TEST_PORT']}"


# The browser's language for every test: the pages' English, whatever the machine's locale is
# (Accept-Language picks the page language since the catalogues exist). A test about another
# language asks for it: browser.new_context(locale="ru-RU").
BROWSER_LOCALE = "en-US"


class EnglishBrowser:
    """The launched browser, whose new contexts and pages speak `BROWSER_LOCALE` unless told
    otherwise."""

    def __init__(self, launched: Any) -> None:
        self._launched = launched

    def new_context(self, **options: Any) -> Any:
        options.setdefault("locale", BROWSER_LOCALE)
        return self._launched.new_context(**options)

    def new_page(self, **options: Any) -> Any:
        options.setdefault("locale", BROWSER_LOCALE)
        return self._launched.new_page(**options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._launched, name)


def new_page(browser: Any) -> Any:
    page = browser.new_context().new_page()
    page.set_default_timeout(15_000)
    return page


def log_in(page: Any, email_address: str, password: str, *, next_url: str = "") -> None:
    page.goto(f"{base_url()}/login/" + (f"?next={next_url}" if next_url else ""))
    page.get_by_label("Email").fill(email_address)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(next_url or f"{base_url()}/practices/")


@pytest.fixture
def browser(live_server: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from django.db import connections
    from playwright.sync_api import sync_playwright

    from tenants.services import public_tenant_ensure

    public_tenant_ensure()
    connections.close_all()
    # Playwright's sync API runs an event loop in this thread; for this test only (left set, it
    # failed later tests: Django's deploy checks refuse it, tests/project/test_settings.py).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, f"--lang={BROWSER_LOCALE}"]
        )
        yield EnglishBrowser(launched)
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
