"""A dentist signs up in a real browser (Playwright driving Debian's Chromium) and reaches the
new practice on its own subdomain, logged in once."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tenants.management.commands.demo_seed import public_tenant_ensure

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

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"{CHROMIUM} is not installed (scripts/test.sh installs it)"),
]


@pytest.fixture
def page(live_server: object) -> Iterator[object]:
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Committed before the browser starts, from this thread's normal (non-async) context.
    public_tenant_ensure()
    connections.close_all()

    # Playwright's sync API runs an event loop in this thread; Django must allow the ORM here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()
        browser.close()


def test_signup_in_the_browser_reaches_the_new_practice(live_server: object, page: object) -> None:
    from playwright.sync_api import expect

    port = os.environ["DENTALTAP_TEST_PORT"]
    base = f"http://dentaltap.localhost:{port}"

    page.goto(f"{base}/")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Create your free practice").click()  # type: ignore[attr-defined]
    page.get_by_label("Your name").fill("Dr. Lena Vogel")  # type: ignore[attr-defined]
    page.get_by_label("Email").fill("lena@example.com")  # type: ignore[attr-defined]
    page.get_by_label("Password").fill("molar-Crown-2026")  # type: ignore[attr-defined]
    page.get_by_label("Practice name").fill("Vogel Dental")  # type: ignore[attr-defined]
    page.get_by_label("Practice address").fill("vogel")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Create my practice").click()  # type: ignore[attr-defined]

    page.wait_for_url(f"http://vogel.dentaltap.localhost:{port}/")  # type: ignore[attr-defined]
    expect(page.get_by_role("heading", name="Vogel Dental")).to_be_visible()  # type: ignore[attr-defined]

    # Add a patient in the new practice: the schema is usable and the session reaches it.
    page.get_by_role("link", name="Patients", exact=True).click()  # type: ignore[attr-defined]
    page.get_by_role("button", name="New patient").click()  # type: ignore[attr-defined]
    page.get_by_label("First name").fill("Maria")  # type: ignore[attr-defined]
    page.get_by_label("Last name").fill("Schmidt")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Save").click()  # type: ignore[attr-defined]
    expect(page.get_by_text("Schmidt, Maria")).to_be_visible()  # type: ignore[attr-defined]

    # The switcher on the base domain lists it; a form error shows in the browser too.
    page.goto(f"{base}/practices/")  # type: ignore[attr-defined]
    expect(page.locator("[data-practice=vogel]")).to_be_visible()  # type: ignore[attr-defined]
    if artifacts := os.environ.get("DENTALTAP_ARTIFACTS"):
        page.screenshot(path=os.path.join(artifacts, "switcher.png"))  # type: ignore[attr-defined]


def test_signup_form_errors_show_in_the_browser(live_server: object, page: object) -> None:
    from playwright.sync_api import expect

    port = os.environ["DENTALTAP_TEST_PORT"]
    page.goto(f"http://dentaltap.localhost:{port}/signup/")  # type: ignore[attr-defined]
    page.get_by_label("Your name").fill("Dr. X")  # type: ignore[attr-defined]
    page.get_by_label("Email").fill("x@example.com")  # type: ignore[attr-defined]
    page.get_by_label("Password").fill("123")  # type: ignore[attr-defined]
    page.get_by_label("Practice name").fill("X")  # type: ignore[attr-defined]
    page.get_by_label("Practice address").fill("Not A Slug")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Create my practice").click()  # type: ignore[attr-defined]
    expect(page.locator("#id_password-errors")).to_contain_text("too short")  # type: ignore[attr-defined]
    expect(page.locator("#id_practice_slug-errors")).to_contain_text("lowercase letters")  # type: ignore[attr-defined]
