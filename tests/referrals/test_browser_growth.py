"""The growth loop in a real browser (Playwright driving Debian's Chromium):

1. an owner invites a colleague; the email is read from the dev mail folder; the colleague signs
   up from its link, lands in their own practice, switches to the inviter's practice and sees
   its patients with the invited role;
2. a newcomer signs up through the owner's public referral link; the owner approves the access
   request and the newcomer finds the practice in their switcher, as a guest.
"""

from __future__ import annotations

import email
import re
import time
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import schema_context, tenant_context

from referrals.services import referral_code_get_or_create
from tenants.models import Practice, User
from tests.browser_support import BROWSER_MARKS, base_url, log_in, new_page, practice_address
from tests.factories import DEFAULT_PASSWORD, PatientFactory
from tests.growth_support import PASSWORD

pytestmark = BROWSER_MARKS


@pytest.fixture
def alpha_with_patient(make_practice: Any) -> tuple[User, Practice]:
    owner, alpha = make_practice("alpha", name="Alpha Dental")
    with tenant_context(alpha):
        PatientFactory(first_name="Maria", last_name="Schmidt")
    return owner, alpha


@pytest.fixture
def mail_folder(settings: Any, tmp_path: Path) -> Path:
    """The dev file backend, as in `scripts/run.sh` (the worker thread shares these settings)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    return tmp_path / "mail"


def invitation_link_from(folder: Path, recipient: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(folder.glob("*.log")) if folder.exists() else []:
            message = email.message_from_bytes(path.read_bytes())
            if recipient in str(message["To"]):
                for part in message.walk():
                    if part.get_content_type() == "text/plain":
                        text = part.get_payload(decode=True).decode()  # type: ignore[union-attr]
                        match = re.search(r"http://\S+/invitations/\S+", text)
                        assert match, text
                        return match.group(0)
        time.sleep(0.1)
    raise AssertionError(f"no invitation email to {recipient} in {folder}")


def test_owner_invites_a_colleague_who_signs_up_and_sees_the_patients(
    alpha_with_patient: tuple[User, Practice], celery_worker: object, mail_folder: Path, browser: Any
) -> None:
    from playwright.sync_api import expect

    owner, _alpha = alpha_with_patient
    owner_page = new_page(browser)
    log_in(owner_page, owner.email, DEFAULT_PASSWORD)
    owner_page.goto(f"{practice_address('alpha')}/")
    owner_page.get_by_role("link", name="Invite", exact=True).click()
    owner_page.get_by_label("Email addresses").fill("nina@example.com, not-an-address")
    owner_page.get_by_label("Role").select_option("assistant")
    owner_page.get_by_label("Personal message (optional)").fill("Welcome to the team, Nina!")
    owner_page.get_by_role("button", name="Send invitations").click()
    expect(owner_page.get_by_test_id("invite-result")).to_contain_text("1 invitation is on its way.")
    expect(owner_page.locator('[data-email="not-an-address"]')).to_contain_text("not a valid email")

    link = invitation_link_from(mail_folder, "nina@example.com")
    colleague = new_page(browser)
    colleague.goto(link)
    expect(colleague.get_by_role("heading", name=f"{owner.full_name} invited you to Alpha Dental")).to_be_visible()
    expect(colleague.get_by_text("Welcome to the team, Nina!")).to_be_visible()
    expect(colleague.get_by_label("Email")).to_have_value("nina@example.com")
    colleague.get_by_label("Your name").fill("Dr. Nina Kraus")
    colleague.get_by_label("Password").fill(PASSWORD)
    colleague.get_by_label("Your own practice's name").fill("Kraus Dental")
    colleague.get_by_label("Practice address").fill("kraus")
    colleague.get_by_role("button", name="Accept and create my account").click()

    colleague.wait_for_url(f"{practice_address('kraus')}/")  # their own practice first
    expect(colleague.get_by_role("heading", name="Kraus Dental")).to_be_visible()
    colleague.get_by_role("link", name="My practices").click()
    colleague.locator("[data-practice=alpha]").click()
    colleague.wait_for_url(f"{practice_address('alpha')}/")
    expect(colleague.get_by_text("You are here as Assistant")).to_be_visible()
    colleague.get_by_role("link", name="Patients", exact=True).click()
    expect(colleague.get_by_text("Schmidt, Maria")).to_be_visible()
    expect(colleague.get_by_test_id("read-only")).to_be_visible()  # an assistant views, does not edit


@pytest.fixture
def owner_referral_code(alpha_with_patient: tuple[User, Practice]) -> str:
    with schema_context("public"):
        return referral_code_get_or_create(user=alpha_with_patient[0]).code


def test_referral_link_signup_ends_with_an_access_request_the_owner_approves(
    alpha_with_patient: tuple[User, Practice], owner_referral_code: str, browser: Any
) -> None:
    from playwright.sync_api import expect

    owner, _alpha = alpha_with_patient
    code = owner_referral_code

    newcomer = new_page(browser)
    newcomer.goto(f"{base_url()}/r/{code}/")
    expect(newcomer.get_by_test_id("referrer")).to_have_text(f"{owner.full_name} invited you to DentalTap")
    newcomer.get_by_label("Your name").fill("Dr. Olga Smirnova")
    newcomer.get_by_label("Email").fill("olga@example.com")
    newcomer.get_by_label("Password").fill(PASSWORD)
    newcomer.get_by_label("Practice name").fill("Smirnova Dental")
    newcomer.get_by_label("Practice address").fill("smirnova")
    expect(newcomer.get_by_label("Also ask for access to Alpha Dental")).to_be_checked()
    newcomer.get_by_role("button", name="Create my practice").click()
    newcomer.wait_for_url(f"{practice_address('smirnova')}/")
    expect(newcomer.get_by_text("Your request to join Alpha Dental was sent")).to_be_visible()
    newcomer.goto(f"{base_url()}/practices/")
    expect(newcomer.locator("[data-practice=alpha]")).to_have_count(0)  # nothing opened yet

    owner_page = new_page(browser)
    log_in(owner_page, owner.email, DEFAULT_PASSWORD)
    owner_page.goto(f"{practice_address('alpha')}/access-requests/")
    row = owner_page.locator("tr", has_text="olga@example.com")
    row.get_by_role("button", name="Approve").click()
    expect(owner_page.get_by_text("can now enter the practice")).to_be_visible()

    newcomer.reload()
    expect(newcomer.locator("[data-practice=alpha]")).to_be_visible()
    newcomer.locator("[data-practice=alpha]").click()
    expect(newcomer.get_by_text("You are here as Guest")).to_be_visible()
    newcomer.goto(f"{practice_address('alpha')}/patients/")
    expect(newcomer.get_by_role("heading", name="Your role does not allow this")).to_be_visible()
