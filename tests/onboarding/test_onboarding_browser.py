"""The getting-started checklist in a real browser: it completes itself as the owner works
through it, and the owner hides it (issue 12)."""

from __future__ import annotations

import datetime
import os
from typing import Any

import pytest

from tests.browser_support import BROWSER_MARKS, log_in, practice_address

pytestmark = BROWSER_MARKS


def _shot(page: Any, name: str) -> None:
    if artifacts := os.environ.get("DENTALTAP_ARTIFACTS"):
        page.screenshot(path=os.path.join(artifacts, f"{name}.png"), full_page=True)


@pytest.fixture
def new_practice(live_server: object) -> dict[str, str]:
    from django.db import connections

    from accounts.services import account_signup
    from tenants.services import public_tenant_ensure
    from tests.factories import DEFAULT_PASSWORD

    public_tenant_ensure()
    account_signup(
        email="owner@fresh.example", password=DEFAULT_PASSWORD, full_name="Dr. Fresh",
        practice_name="Fresh Dental", practice_slug="fresh",
    )  # fmt: skip
    connections.close_all()
    return {"password": DEFAULT_PASSWORD}


def test_checklist_completes_itself_and_the_owner_hides_it(new_practice: dict[str, str], page: Any) -> None:
    from playwright.sync_api import expect

    fresh = practice_address("fresh")
    log_in(page, "owner@fresh.example", new_practice["password"], next_url=f"{fresh}/")
    checklist = page.get_by_test_id("onboarding-checklist")
    expect(checklist).to_be_visible()
    expect(page.get_by_test_id("onboarding-progress")).to_have_text("0 of 4 steps done")
    _shot(page, "onboarding-checklist-empty")

    checklist.get_by_role("link", name="Add your first patient").click()
    page.wait_for_url(f"{fresh}/patients/new/")
    page.get_by_label("First name").fill("Maria")
    page.get_by_label("Last name").fill("Schmidt")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{fresh}/patients/")

    page.goto(f"{fresh}/")
    expect(page.get_by_test_id("onboarding-progress")).to_have_text("1 of 4 steps done")
    expect(checklist.locator("[data-step=first_patient]")).to_have_attribute("data-done", "true")
    next_step = checklist.get_by_role("link", name="Book an appointment")
    expect(next_step).to_have_attribute("aria-current", "step")
    _shot(page, "onboarding-checklist-one-done")

    next_step.click()
    page.wait_for_url(f"{fresh}/appointments/new/")
    starts = (datetime.datetime.now() + datetime.timedelta(days=1)).replace(hour=10, minute=0)
    page.get_by_label("Patient").select_option(label="Maria Schmidt")
    page.get_by_label("Starts at").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Ends at").fill((starts + datetime.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{fresh}/appointments/")
    page.goto(f"{fresh}/")
    expect(page.get_by_test_id("onboarding-progress")).to_have_text("2 of 4 steps done")

    page.get_by_test_id("onboarding-checklist-hide").click()
    page.wait_for_url(f"{fresh}/")
    expect(page.get_by_test_id("onboarding-checklist")).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text("checklist is hidden")
    _shot(page, "onboarding-checklist-hidden")
