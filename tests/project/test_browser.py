"""A dentist signs up in a real browser (Playwright driving Debian's Chromium) and reaches the
new practice on its own subdomain, logged in once."""

from __future__ import annotations

import os

import pytest

from tenants.services import public_tenant_ensure
from tests.browser_support import BROWSER_MARKS, log_in

pytestmark = BROWSER_MARKS


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


@pytest.fixture
def team_practice(live_server: object) -> dict[str, str]:
    from django.db import connections
    from django_tenants.utils import tenant_context

    from accounts.services import account_signup
    from tenants.models import JoinedVia, Role
    from tenants.team.services import membership_create
    from tests.factories import DEFAULT_PASSWORD, PatientFactory, UserFactory

    public_tenant_ensure()
    practice = account_signup(
        email="owner@example.com",
        password=DEFAULT_PASSWORD,
        full_name="Dr. Owner",
        practice_name="Team Dental",
        practice_slug="team",
    ).practice
    colleague = UserFactory(email="colleague@example.com", full_name="Dr. Colleague")
    membership_create(user=colleague, practice=practice, role=Role.DENTIST, joined_via=JoinedVia.INVITATION)
    with tenant_context(practice):
        PatientFactory(first_name="Maria", last_name="Schmidt")
    connections.close_all()
    return {"password": DEFAULT_PASSWORD}


def test_owner_narrows_then_revokes_a_colleague_in_the_browser(
    live_server: object, team_practice: dict[str, str], browser: object, page: object
) -> None:
    """Two people, two browser contexts: the colleague's very next page load reflects each change."""
    from playwright.sync_api import expect

    port = os.environ["DENTALTAP_TEST_PORT"]
    practice_url = f"http://team.dentaltap.localhost:{port}"

    log_in(page, "owner@example.com", team_practice["password"], next_url=f"{practice_url}/patients/")
    colleague_context = browser.new_context()  # type: ignore[attr-defined]
    colleague_page = colleague_context.new_page()
    colleague_page.set_default_timeout(15_000)
    log_in(colleague_page, "colleague@example.com", team_practice["password"], next_url=f"{practice_url}/patients/")
    expect(colleague_page.get_by_role("button", name="New patient")).to_be_visible()

    # The owner narrows the colleague to view-only.
    page.goto(f"{practice_url}/team/")  # type: ignore[attr-defined]
    page.locator('tr[data-member="colleague@example.com"]').get_by_role("link", name="Manage").click()  # type: ignore[attr-defined]
    for label in ("Edit patients", "Manage the schedule", "Invite colleagues"):
        page.get_by_label(label).uncheck()  # type: ignore[attr-defined]
    page.get_by_role("button", name="Save access").click()  # type: ignore[attr-defined]
    expect(page.get_by_text("Access of Dr. Colleague updated.")).to_be_visible()  # type: ignore[attr-defined]

    colleague_page.reload()
    expect(colleague_page.get_by_test_id("read-only")).to_be_visible()
    expect(colleague_page.get_by_text("Schmidt, Maria")).to_be_visible()
    expect(colleague_page.get_by_role("button", name="New patient")).to_have_count(0)

    # The owner revokes: the colleague is refused on the next load.
    page.locator('tr[data-member="colleague@example.com"]').get_by_role("link", name="Manage").click()  # type: ignore[attr-defined]
    page.get_by_role("button", name="Revoke access").click()  # type: ignore[attr-defined]
    expect(page.get_by_text("Access revoked.")).to_be_visible()  # type: ignore[attr-defined]
    colleague_page.reload()
    expect(colleague_page.get_by_role("heading", name="You do not have access to this practice")).to_be_visible()
    colleague_context.close()
