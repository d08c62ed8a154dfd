"""The page frame in a real browser: the practice switcher in the header, the Billing link,
message styles that tell an error from a success, the styled unknown-host page, and the
Team page of a practice admin offering nothing on the owner."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.browser_support import BROWSER_MARKS, base_url, log_in, practice_address

pytestmark = BROWSER_MARKS


def _shot(page: Any, name: str) -> None:
    if artifacts := os.environ.get("DENTALTAP_ARTIFACTS"):
        page.screenshot(path=os.path.join(artifacts, f"{name}.png"), full_page=True)


@pytest.fixture
def two_practices(live_server: object) -> dict[str, str]:
    from django.db import connections

    from accounts.services import account_signup
    from tenants.models import JoinedVia, Role
    from tenants.services import public_tenant_ensure
    from tenants.team.services import membership_create
    from tests.conftest import upgrade_to_paid_plan
    from tests.factories import DEFAULT_PASSWORD, UserFactory

    public_tenant_ensure()
    smile_signup = account_signup(
        email="owner@smile.example", password=DEFAULT_PASSWORD, full_name="Dr. Smile",
        practice_name="Smile Dental", practice_slug="smile",
    )  # fmt: skip
    owner, smile = smile_signup.user, smile_signup.practice
    north = account_signup(
        email="owner@north.example", password=DEFAULT_PASSWORD, full_name="Dr. North",
        practice_name="Northside Clinic", practice_slug="north",
    ).practice  # fmt: skip
    upgrade_to_paid_plan(smile)
    membership_create(user=owner, practice=north, role=Role.GUEST, joined_via=JoinedVia.REFERRAL_LINK)
    admin = UserFactory(email="admin@smile.example", full_name="Ada Admin")
    membership_create(user=admin, practice=smile, role=Role.PRACTICE_ADMIN, joined_via=JoinedVia.INVITATION)
    connections.close_all()
    return {"password": DEFAULT_PASSWORD}


def test_the_header_switches_practice_and_offers_billing(two_practices: dict[str, str], page: Any) -> None:
    from playwright.sync_api import expect

    smile, north = practice_address("smile"), practice_address("north")
    log_in(page, "owner@smile.example", two_practices["password"], next_url=f"{smile}/")
    expect(page.get_by_test_id("nav-billing")).to_be_visible()
    switcher = page.get_by_test_id("practice-switcher")
    switcher.locator("summary").click()
    expect(switcher.locator("[data-practice=north]")).to_be_visible()
    _shot(page, "switcher-open")
    switcher.locator("[data-practice=north]").click()
    page.wait_for_url(f"{north}/")
    expect(page.get_by_test_id("practice-switcher").locator("summary")).to_have_text("Northside Clinic")
    # A guest of Northside may not see its billing: no link.
    expect(page.get_by_test_id("nav-billing")).to_have_count(0)

    page.goto(f"{smile}/billing/")
    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    _shot(page, "billing")


def test_error_and_success_messages_look_different(two_practices: dict[str, str], page: Any) -> None:
    from playwright.sync_api import expect

    smile = practice_address("smile")
    log_in(page, "admin@smile.example", two_practices["password"], next_url=f"{smile}/team/")
    owner_row = page.locator('tr[data-member="owner@smile.example"]')
    expect(owner_row.get_by_test_id("manage")).to_have_count(0)  # nothing to offer on the owner
    owner_row.get_by_role("link", name="View").click()
    expect(page.get_by_test_id("access-form")).to_have_count(0)
    expect(page.get_by_role("button", name="Suspend")).to_have_count(0)
    expect(page.get_by_role("button", name="Revoke access")).to_have_count(0)
    _shot(page, "admin-views-owner")

    # A success first (saving a setting), then a refusal, each in its own style.
    page.goto(f"{smile}/access-requests/")
    page.get_by_role("button", name="Save").click()
    success = page.locator('[data-message-level="success"]')
    expect(success).to_be_visible()
    success_colour = success.evaluate("el => getComputedStyle(el).borderLeftColor")
    _shot(page, "message-success")

    page.goto(f"{smile}/team/")
    own_row = page.locator('tr[data-member="admin@smile.example"]')
    expect(own_row.get_by_test_id("manage")).to_have_count(0)
    # The stale-page case: a suspend button from another tab, posted on one's own access.
    own_id = page.evaluate(
        "async () => (await (await fetch('/api/team/members/')).json()).find(m => m.email === 'admin@smile.example').id"
    )
    page.evaluate(
        """(id) => {
            const form = document.createElement("form");
            form.method = "post";
            form.action = `/team/${id}/suspend/`;
            const token = document.createElement("input");
            token.name = "csrfmiddlewaretoken";
            token.value = document.cookie.split("; ").find(c => c.startsWith("csrftoken=")).split("=")[1];
            form.appendChild(token);
            document.body.appendChild(form);
            form.submit();
        }""",
        own_id,
    )
    error = page.locator('[data-message-level="error"]')
    expect(error).to_contain_text("You cannot change your own access")
    error_colour = error.evaluate("el => getComputedStyle(el).borderLeftColor")
    assert error_colour != success_colour
    bullet = error.evaluate("el => getComputedStyle(el.parentElement).display + ' ' + el.tagName")
    assert bullet == "block ARTICLE"  # not a list item: no stray bullet
    _shot(page, "message-error")


def test_the_unknown_host_page_is_styled(live_server: object, page: Any) -> None:
    port = os.environ["DENTALTAP_TEST_PORT"]
    response = page.goto(f"http://nowhere.dentaltap.localhost:{port}/")
    assert response.status == 404
    _shot(page, "unknown-host")
    font = page.evaluate("() => getComputedStyle(document.body).fontFamily")
    assert "Times" not in font and "system-ui" in font
    # Unstyled, the header's items were a bulleted list; styled, they sit in one row, no marker.
    displays = page.evaluate(
        "() => [...document.querySelectorAll('header nav li')].map(li => getComputedStyle(li).display)"
    )
    assert displays and "list-item" not in displays, displays
    assert page.get_by_role("button", name="Go to DentalTap").get_attribute("href") == f"{base_url()}/"
