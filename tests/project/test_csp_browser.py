"""The Content-Security-Policy holds in a real browser: every main page (the public site, the
practice workspace, the referral dashboard with its vendored uPlot chart and QR code, the API
docs with Swagger UI, the staff admin) loads with the policy in force and without a single
violation, and what those pages need still works."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_support import BROWSER_MARKS, base_url, log_in, practice_address

pytestmark = BROWSER_MARKS

# Recorded by the page itself (Playwright's init script runs outside the page's CSP).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""


@pytest.fixture
def seeded(live_server: object) -> dict[str, Any]:
    import datetime

    from django.db import connections
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from accounts.services import account_signup
    from tenants.services import public_tenant_ensure
    from tests.factories import DEFAULT_PASSWORD, AppointmentFactory, PatientFactory, UserFactory

    public_tenant_ensure()
    signed_up = account_signup(
        email="owner@example.com",
        password=DEFAULT_PASSWORD,
        full_name="Dr. Owner",
        practice_name="Policy Dental",
        practice_slug="policy",
    )
    owner, practice = signed_up.user, signed_up.practice
    with tenant_context(practice):
        patient = PatientFactory(first_name="Maria", last_name="Schmidt")
        AppointmentFactory(patient=patient, starts_at=timezone.now() + datetime.timedelta(days=1))
    UserFactory(email="staff@dentaltap.example", is_staff=True, is_superuser=True)
    connections.close_all()
    return {"owner": owner, "password": DEFAULT_PASSWORD}


@pytest.fixture
def watched_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.console_messages_seen = []  # type: ignore[attr-defined]
    page.on("console", lambda message: page.console_messages_seen.append(message.text))  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.console_messages_seen.append(f"page error: {error}"))  # type: ignore[attr-defined]
    yield page
    context.close()


def visit(page: Any, url: str, *, settle: str = "load") -> None:
    response = page.goto(url, wait_until=settle)
    assert response is not None and response.status < 400, (url, response and response.status)
    policy = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "style-src 'self'" in policy, url
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert_no_violations(page, url)


def assert_no_violations(page: Any, url: str) -> None:
    # Violation events are dispatched as tasks: let the queue run once before reading them.
    violations = page.evaluate("() => new Promise((done) => setTimeout(() => done(window.__cspViolations), 50))")
    console = [text for text in page.console_messages_seen if "Content Security Policy" in text or "page error" in text]
    assert violations == [] and console == [], (url, violations, console)


def test_the_main_pages_load_under_the_policy_without_a_violation(seeded: dict[str, Any], watched_page: Any) -> None:
    from playwright.sync_api import expect

    page = watched_page
    for path in ("/", "/login/", "/signup/", "/password-reset/"):
        visit(page, f"{base_url()}{path}")

    log_in(page, seeded["owner"].email, seeded["password"])
    assert_no_violations(page, "login")
    practice = practice_address("policy")
    for path in (
        "/",
        "/patients/",
        "/patients/new/",
        "/appointments/",
        "/appointments/new/",
        "/team/",
        "/team/audit/",
        "/invitations/",
        "/access-requests/",
        "/billing/",
    ):
        visit(page, f"{practice}{path}")

    # The referral dashboard: the vendored uPlot chart draws, the QR code (SVG) shows.
    visit(page, f"{base_url()}/referrals/", settle="networkidle")
    expect(page.locator("#weekly-chart canvas")).to_have_count(1)
    qr = page.get_by_test_id("referral-qr")
    expect(qr).to_be_visible()
    assert page.evaluate("(image) => image.naturalWidth", qr.element_handle()) > 0
    assert_no_violations(page, "referrals")

    # The API docs: Swagger UI renders the practice's operations.
    visit(page, f"{practice}/api/docs/", settle="networkidle")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.get_by_text("/api/patients/", exact=True).first).to_be_visible()
    assert_no_violations(page, "api docs")

    # Logging out from a practice page works and ends on the public site.
    visit(page, f"{practice}/")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{base_url()}/")
    page.goto(f"{practice}/patients/")
    page.wait_for_url(f"{base_url()}/login/**")  # logged out everywhere
    assert_no_violations(page, "logout")

    # The staff admin (every admin page's markup is checked over HTTP in test_security_headers.py)
    # and the staff analytics page.
    log_in(page, "staff@dentaltap.example", seeded["password"], next_url=f"{base_url()}/admin/")
    for path in ("/admin/", "/admin/tenants/user/", "/admin/tenants/user/add/", "/admin/axes/accessattempt/"):
        visit(page, f"{base_url()}{path}")
    visit(page, f"{base_url()}/staff/referrals/", settle="networkidle")


def test_an_inline_script_or_style_would_be_refused(watched_page: Any) -> None:
    """The policy is live: markup injected into a page cannot run a script or style itself."""
    page = watched_page
    visit(page, f"{base_url()}/login/")
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.__ran = true";
            document.body.appendChild(script);
            const box = document.createElement("div");
            box.setAttribute("style", "color: rgb(255, 0, 0)");
            box.id = "styled";
            document.body.appendChild(box);
        }"""
    )
    assert page.evaluate("window.__ran === undefined")
    assert page.evaluate("getComputedStyle(document.getElementById('styled')).color") != "rgb(255, 0, 0)"
    violations = page.evaluate("window.__cspViolations")
    assert any(entry.startswith("script-src") for entry in violations), violations
    assert any(entry.startswith("style-src") for entry in violations), violations
