"""The "Refer colleagues" page in a real browser (Playwright driving Debian's Chromium): the user
copies their link with the Copy button (read back from the real clipboard: the context is
granted clipboard-read/write, and *.localhost is a secure context), a newcomer signs up through
it, and the page's live figures move without a reload."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser_support import BROWSER_MARKS, base_url, log_in, practice_address
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.growth_support import PASSWORD

pytestmark = BROWSER_MARKS


@pytest.fixture
def referrer(transactional_db: None) -> Any:
    return UserFactory(email="referrer@example.com", full_name="Dr. Rita Referrer")


def test_copy_the_link_and_see_the_funnel_move_after_a_signup(referrer: Any, browser: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, referrer.email, DEFAULT_PASSWORD)
    page.get_by_test_id("nav-refer").click()
    page.wait_for_url(f"{base_url()}/referrals/")
    expect(page.locator('[data-figure="signups"]')).to_have_text("0")
    expect(page.locator('[data-figure="visits"]')).to_have_text("0")
    expect(page.get_by_test_id("no-referrals")).to_be_visible()
    expect(page.locator("#weekly-chart canvas")).to_have_count(1)  # the vendored uPlot drew the chart
    expect(page.get_by_test_id("referral-qr")).to_be_visible()

    page.get_by_test_id("copy-link").click()
    expect(page.get_by_test_id("copy-status")).to_have_text("Copied to the clipboard")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.get_by_test_id("referral-link").input_value()
    assert copied.startswith(f"{base_url()}/r/")

    newcomer = browser.new_context().new_page()
    newcomer.set_default_timeout(15_000)
    newcomer.goto(copied)
    expect(newcomer.get_by_test_id("referrer")).to_have_text("Dr. Rita Referrer invited you to DentalTap")
    newcomer.get_by_label("Your name").fill("Dr. Nina Kraus")
    newcomer.get_by_label("Email").fill("nina.kraus@example.com")
    newcomer.get_by_label("Password").fill(PASSWORD)
    newcomer.get_by_label("Practice name").fill("Kraus Dental")
    newcomer.get_by_label("Practice address").fill("kraus")
    newcomer.get_by_role("button", name="Create my practice").click()
    newcomer.wait_for_url(f"{practice_address('kraus')}/")

    # Live: the page re-reads its figures (as its 20-second timer does) without a reload.
    page.evaluate("window.dentaltapReferralsRefresh()")
    expect(page.locator('[data-figure="signups"]')).to_have_text("1")
    expect(page.locator('[data-figure="visits"]')).to_have_text("1")
    expect(page.locator('[data-figure="earned"]')).to_have_text("$0.00")  # the server's money format, not "0 USD"
    page.reload()
    row = page.get_by_test_id("referrals").locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Dr. Nina Kraus")
    expect(row).to_contain_text("n***@example.com")
    expect(row).not_to_contain_text("nina.kraus@example.com")
    context.close()
