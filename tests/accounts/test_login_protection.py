"""Brute-force protection on the login page (django-axes, attempts in the database): five wrong
passwords pause one account from one address for 15 minutes, with a form error naming when to
try again; the right password is refused meanwhile and works after the cool-down. Colleagues on
the same address are unaffected until the much higher per-address limit; staff see it all."""

from __future__ import annotations

import datetime

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.test import Client

from tenants.models import Practice, User
from tests.conftest import BASE, PracticeMaker
from tests.factories import DEFAULT_PASSWORD, UserFactory

# No test here enters a practice's own tables: the practices need no schema.
pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]

Pair = tuple[User, Practice]
CLINIC_IP = "10.20.30.40"


def log_in(email: str, password: str, ip: str = CLINIC_IP) -> Client:
    client = Client(HTTP_HOST=BASE, REMOTE_ADDR=ip)
    client.response = client.post("/login/", {"username": email, "password": password})  # type: ignore[attr-defined]
    return client


def status(email: str, password: str, ip: str = CLINIC_IP) -> int:
    return log_in(email, password, ip).response.status_code  # type: ignore[attr-defined]


def pass_time(minutes: int) -> None:
    """Let time pass for the lockout: its clock is the attempts' stored times."""
    AccessAttempt.objects.update(attempt_time=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=minutes))


def test_the_settings_are_the_promised_ones() -> None:
    assert settings.LOGIN_FAILURE_LIMIT_PER_ACCOUNT_AND_IP == 5
    assert settings.LOGIN_FAILURE_LIMIT_PER_IP == 50
    assert datetime.timedelta(minutes=15) == settings.AXES_COOLOFF_TIME


def test_five_wrong_passwords_pause_the_account_with_a_clear_message(practice_a: Pair) -> None:
    owner, _ = practice_a
    for _attempt in range(4):
        response = log_in(owner.email, "wrong-password").response  # type: ignore[attr-defined]
        assert response.status_code == 200
        assert "correct email and password" in str(response.context["form"].non_field_errors())

    fifth = log_in(owner.email.upper(), "wrong-password").response  # type: ignore[attr-defined]  # one account, any case
    assert fifth.status_code == 429
    message = str(fifth.context["form"].non_field_errors())
    assert "Too many failed logins for this account" in message and "try again in 15 minutes" in message
    assert 14 * 60 <= int(fifth["Retry-After"]) <= 15 * 60
    assert b'role="alert"' in fifth.content and b"try again in 15 minutes" in fifth.content

    # The right password is refused while paused, with the same message, and does not log in.
    refused = log_in(owner.email, DEFAULT_PASSWORD)
    assert refused.response.status_code == 429  # type: ignore[attr-defined]
    assert "Too many failed logins" in str(refused.response.context["form"].non_field_errors())  # type: ignore[attr-defined]
    assert "_auth_user_id" not in refused.session
    # ... and refusals do not extend the pause.
    assert AccessAttempt.objects.get(username=owner.email).failures_since_start == 5

    pass_time(minutes=16)
    after = log_in(owner.email, DEFAULT_PASSWORD)
    assert after.response.status_code == 302 and after.session["_auth_user_id"] == str(owner.pk)  # type: ignore[attr-defined]


def test_colleagues_on_the_same_network_are_not_locked_out_by_one_persons_typos(
    practice_a: Pair, make_practice: PracticeMaker
) -> None:
    owner, _ = practice_a
    colleague, _ = make_practice("bravo")
    for _attempt in range(5):
        log_in(owner.email, "wrong-password")
    assert status(owner.email, DEFAULT_PASSWORD) == 429
    # A colleague at the same address, and the owner from another address, log in.
    assert status(colleague.email, DEFAULT_PASSWORD) == 302
    assert status(owner.email, DEFAULT_PASSWORD, ip="10.99.0.1") == 302


def test_many_failures_over_many_accounts_pause_the_whole_address(practice_a: Pair) -> None:
    owner, _ = practice_a
    for number in range(49):
        assert status(f"guess-{number}@example.com", "wrong-password") == 200
    assert status("guess-49@example.com", "wrong-password") == 429  # the 50th failure from this address
    paused = log_in(owner.email, DEFAULT_PASSWORD).response  # type: ignore[attr-defined]
    assert paused.status_code == 429
    assert "Too many failed logins from your network" in str(paused.context["form"].non_field_errors())
    assert status(owner.email, DEFAULT_PASSWORD, ip="10.99.0.1") == 302  # other addresses are not


def test_a_right_password_forgets_this_accounts_typos_from_this_address(practice_a: Pair) -> None:
    owner, _ = practice_a
    for _attempt in range(4):
        log_in(owner.email, "wrong-password")
    assert status(owner.email, DEFAULT_PASSWORD) == 302
    for _attempt in range(4):
        assert status(owner.email, "wrong-password") == 200  # counting starts again
    assert status(owner.email, "wrong-password") == 429


def test_force_login_does_not_count_as_a_failure(practice_a: Pair) -> None:
    owner, _ = practice_a
    for _number in range(10):
        client = Client(HTTP_HOST=BASE)
        client.force_login(owner)
        assert client.get("/practices/").status_code == 200
    assert not AccessAttempt.objects.exists()


def test_the_staff_admin_login_is_protected_too_and_staff_see_the_lockouts(public_tenant: Practice) -> None:
    staff = UserFactory(email="staff@dentaltap.example", is_staff=True, is_superuser=True)
    client = Client(HTTP_HOST=BASE, REMOTE_ADDR=CLINIC_IP)
    for _attempt in range(4):
        response = client.post("/admin/login/", {"username": staff.email, "password": "wrong-password"})
        assert response.status_code == 200
    ok = client.post("/admin/login/", {"username": staff.email, "password": DEFAULT_PASSWORD})
    assert ok.status_code == 302  # four failures so far: the right password still works
    client = Client(HTTP_HOST=BASE, REMOTE_ADDR=CLINIC_IP)
    for _attempt in range(5):
        response = client.post("/admin/login/", {"username": "victim@example.com", "password": "wrong-password"})
    assert response.status_code == 429 and b"Too many failed logins" in response.content
    assert int(response["Retry-After"]) > 0

    admin = Client(HTTP_HOST=BASE)
    admin.force_login(staff)
    attempts = admin.get("/admin/axes/accessattempt/")
    assert attempts.status_code == 200 and b"victim@example.com" in attempts.content
    failures = admin.get("/admin/axes/accessfailurelog/")
    assert failures.status_code == 200 and b"victim@example.com" in failures.content
    assert AccessFailureLog.objects.filter(username="victim@example.com", locked_out=True).exists()


def test_a_lockout_is_logged(practice_a: Pair, caplog: pytest.LogCaptureFixture) -> None:
    owner, _ = practice_a
    with caplog.at_level("INFO", logger="dentaltap.login_protection"):
        for _attempt in range(6):
            log_in(owner.email, "wrong-password")
    lines = [record.getMessage() for record in caplog.records if record.name == "dentaltap.login_protection"]
    assert lines == [
        f"login paused after repeated failures: account {owner.email} from {CLINIC_IP}",
        f"login refused while paused: account {owner.email} from {CLINIC_IP}",
    ]
