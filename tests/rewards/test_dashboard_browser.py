"""The "Refer colleagues" page in a real browser (Playwright driving Debian's Chromium): the user
copies their link with the Copy button (read back from the real clipboard: the context is
granted clipboard-read/write, and *.localhost is a secure context), a newcomer signs up through
it, and the page's live figures move without a reload. Then (issue 11) a referrer with tiers and
points reads their program's panel and redeems points in the catalogue.

Screenshots go to $DENTALTAP_ARTIFACTS when it is set."""

from __future__ import annotations

import os
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


def _shot(page: Any, name: str) -> None:
    if artifacts := os.environ.get("DENTALTAP_ARTIFACTS"):
        page.screenshot(path=os.path.join(artifacts, f"{name}.png"), full_page=True)


@pytest.fixture
def earner(transactional_db: None) -> Any:
    """A referrer with two paid referrals under tiers at 3 and 10, and 1,500 points."""
    from django.db import connections

    from rewards.models import CatalogueItem, RewardRule
    from tests.billing_support import default_rule_set
    from tests.conftest import practice_schema_creation_skipped
    from tests.points_support import give_points, qualify, referral_paid

    def practice(slug: str, schema: bool = False) -> tuple[Any, Any]:
        from tenants.models import Membership, Practice, Role

        user = UserFactory(email=f"{slug}@example.com", full_name=f"Dr. {slug.title()}")
        with practice_schema_creation_skipped():  # the pages read the public schema only
            row = Practice.objects.create(schema_name=f"practice_{slug.replace('-', '_')}", slug=slug, name=slug)
        Membership.objects.create(user=user, practice=row, role=Role.OWNER, joined_via="created_practice")
        return user, row

    referrer, _home = practice("tia-tier")
    give_points(referrer, 1500, practice)
    base = default_rule_set(structure="flat", amount_cents=5000, points=0)
    RewardRule.objects.create(
        program=base.program, name="Bonus at 3", amount_cents=10000, condition="nth_paid", threshold=3
    )
    RewardRule.objects.create(
        program=base.program, name="Bonus at 10", amount_cents=25000, condition="nth_paid", threshold=10
    )
    qualify(referral_paid(practice, referrer, "second-paid"))
    CatalogueItem.objects.create(name="One month of Pro", cost_points=1000, stock=5)
    CatalogueItem.objects.create(name="$100 credit", cost_points=2000)
    connections.close_all()
    return referrer


def test_the_program_panel_and_a_redemption_in_the_catalogue(earner: Any, browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    page.set_default_timeout(15_000)
    log_in(page, earner.email, DEFAULT_PASSWORD)
    page.goto(f"{base_url()}/referrals/")
    panel = page.get_by_test_id("program")
    expect(panel).to_contain_text("2 of 3 paid referrals to the next bonus.")
    expect(panel.get_by_test_id("tier-bar")).to_have_attribute("value", "66")
    expect(panel).to_contain_text("when a practice you referred pays its first invoice")
    expect(page.locator('[data-figure="points-balance"]').first).to_have_text("1500 points")
    _shot(page, "referrals-programs")

    page.get_by_test_id("redeem-link").click()
    page.wait_for_url(f"{base_url()}/referrals/rewards/")
    row = page.locator("[data-testid=catalogue] tr", has_text="One month of Pro")
    expect(page.locator("[data-testid=catalogue] tr", has_text="$100 credit").get_by_test_id("redeem")).to_be_disabled()
    row.get_by_test_id("redeem").click()
    expect(page.locator(".messages")).to_contain_text("Redeemed: One month of Pro for 1000 points.")
    expect(page.locator('[data-figure="points-balance"]')).to_have_text("500 points")
    expect(page.get_by_test_id("redemptions")).to_contain_text("One month of Pro")
    _shot(page, "reward-catalogue")
