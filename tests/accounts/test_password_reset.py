"""Password reset: linked from the login page; the same answer (and the same work in the request)
for known and unknown addresses; the email sent by a task after commit, with a link on the public
base domain; rate limited; the link works once, for an hour; a reset ends other sessions, API
tokens and login pauses; forged, used and expired links get a clear page."""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.authtoken.models import Token

from tenants import password_reset
from tenants.models import Practice, User
from tests.conftest import BASE, PORT
from tests.factories import DEFAULT_PASSWORD, UserFactory

# No test here enters a practice's own tables: the practices need no schema.
pytestmark = pytest.mark.practice_rows_only

Pair = tuple[User, Practice]
NEW_PASSWORD = "Fresh-enamel-2027"
LINK = re.compile(r"http://dentaltap\.localhost:\d+/password-reset/[A-Za-z0-9_-]+/[A-Za-z0-9-]+/")


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def reset_link(message: Any) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(0)


def request_reset(client: Client, email: str, captured: Callable[..., Any]) -> tuple[Any, list[Any]]:
    with captured(execute=False) as callbacks:
        response = client.post("/password-reset/", {"email": email})
    return response, callbacks


@pytest.mark.django_db
def test_the_login_page_links_to_a_styled_reset_page(public_tenant: Practice) -> None:
    client = Client(HTTP_HOST=BASE)
    login = client.get("/login/")
    assert b'href="/password-reset/"' in login.content and b"Forgot your password?" in login.content
    page = client.get("/password-reset/")
    assert page.status_code == 200
    assert b"/static/css/app.css" in page.content and b"Reset your password" in page.content  # the site's layout
    assert settings.PASSWORD_RESET_TIMEOUT == 3600


@pytest.mark.django_db
def test_known_and_unknown_addresses_get_the_same_answer_and_the_same_work(
    practice_a: Pair, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    owner, _ = practice_a
    known, known_callbacks = request_reset(Client(HTTP_HOST=BASE), owner.email, django_capture_on_commit_callbacks)
    unknown, unknown_callbacks = request_reset(
        Client(HTTP_HOST=BASE), "nobody@example.com", django_capture_on_commit_callbacks
    )
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == "/password-reset/sent/"
    assert known.content == unknown.content
    # The request does one thing either way: queue one task after commit (the task looks up the
    # address), so the timing does not tell either.
    assert len(known_callbacks) == len(unknown_callbacks) == 1
    assert mail.outbox == []  # nothing is sent inside the request
    sent = Client(HTTP_HOST=BASE).get("/password-reset/sent/")
    assert sent.status_code == 200 and b"If an account uses that address" in sent.content


@pytest.mark.django_db
def test_the_task_emails_a_link_on_the_public_domain_only_to_a_known_address(practice_a: Pair) -> None:
    owner, _ = practice_a
    mail.outbox = []
    assert password_reset.password_reset_email_send(email="nobody@example.com") == 0
    assert password_reset.password_reset_email_send(email=f"  {owner.email.upper()} ") == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [owner.email] and "password" in message.subject.lower()
    link = reset_link(message)
    assert link.startswith(f"http://dentaltap.localhost:{PORT}/password-reset/")
    html = message.alternatives[0][0]
    assert link in html and "60 minutes" in message.body

    inactive = UserFactory(email="left@example.com", is_active=False)
    assert password_reset.password_reset_email_send(email=inactive.email) == 0


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_email_after_commit_whatever_host_the_request_named(
    celery_worker: object, practice_a: Pair
) -> None:
    owner, _ = practice_a
    mail.outbox = []
    forged = Client(HTTP_HOST=f"{BASE}:1234", HTTP_X_FORWARDED_HOST="evil.example")
    assert forged.post("/password-reset/", {"email": "nobody@example.com"}).status_code == 302
    assert forged.post("/password-reset/", {"email": owner.email}).status_code == 302

    deadline = time.monotonic() + 15
    while not mail.outbox and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(mail.outbox) == 1, "the worker did not send the email"
    # The solo worker runs tasks in order: the unknown address's task has run, and sent nothing.
    message = mail.outbox[0]
    assert message.to == [owner.email]
    assert reset_link(message).startswith(f"http://dentaltap.localhost:{PORT}/")
    assert "evil" not in message.body and ":1234" not in message.body


@pytest.mark.django_db
def test_reset_requests_are_rate_limited_per_mailbox_the_same_for_unknown_ones(
    public_tenant: Practice, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_reset": {"ip": (100, 3600), "email": (3, 3600)}}
    user = UserFactory(email="dentist@example.com")
    for email in (user.email, "nobody@example.com"):
        client = Client(HTTP_HOST=BASE)
        assert [request_reset(client, email, django_capture_on_commit_callbacks)[0].status_code for _ in range(3)] == [
            302,
            302,
            302,
        ]
        limited, callbacks = request_reset(client, email, django_capture_on_commit_callbacks)
        assert limited.status_code == 429 and b"Too many attempts" in limited.content and limited["Retry-After"]
        assert callbacks == []  # nothing queued when limited


@pytest.mark.django_db
def test_reset_requests_are_rate_limited_per_address(
    public_tenant: Practice, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_reset": {"ip": (2, 3600), "email": (100, 3600)}}
    client = Client(HTTP_HOST=BASE, REMOTE_ADDR="10.1.1.1")
    for number in range(2):
        assert request_reset(client, f"a{number}@example.com", django_capture_on_commit_callbacks)[0].status_code == 302
    assert request_reset(client, "a3@example.com", django_capture_on_commit_callbacks)[0].status_code == 429
    other = Client(HTTP_HOST=BASE, REMOTE_ADDR="10.1.1.2")
    assert request_reset(other, "a3@example.com", django_capture_on_commit_callbacks)[0].status_code == 302


@pytest.mark.django_db
def test_a_bad_address_is_a_form_error(public_tenant: Practice) -> None:
    response = Client(HTTP_HOST=BASE).post("/password-reset/", {"email": "not-an-address"})
    assert response.status_code == 400 and "email" in response.context["form"].errors


def emailed_link(user: User) -> str:
    mail.outbox = []
    assert password_reset.password_reset_email_send(email=user.email) == 1
    return reset_link(mail.outbox[0]).split(f"{PORT}", 1)[1]


@pytest.mark.django_db
def test_the_link_sets_a_new_password_once_and_ends_other_sessions_tokens_and_pauses(practice_a: Pair) -> None:
    owner, _ = practice_a
    elsewhere = Client(HTTP_HOST=BASE)
    elsewhere.force_login(owner)
    assert elsewhere.get("/practices/").status_code == 200
    token = Token.objects.create(user=owner)
    for _attempt in range(5):  # paused on this network by someone's guesses
        Client(HTTP_HOST=BASE).post("/login/", {"username": owner.email, "password": "wrong-password"})
    assert (
        Client(HTTP_HOST=BASE).post("/login/", {"username": owner.email, "password": DEFAULT_PASSWORD}).status_code
        == 429
    )

    path = emailed_link(owner)
    browser = Client(HTTP_HOST=BASE)
    opened = browser.get(path)
    assert opened.status_code == 302 and opened["Location"].endswith("/set-password/")  # no token in the page URL
    form = browser.get(opened["Location"])
    assert form.status_code == 200 and b"Choose a new password" in form.content
    weak = browser.post(opened["Location"], {"new_password1": "short", "new_password2": "short"})
    assert weak.status_code == 400 and weak.context["form"].errors
    owner.refresh_from_db()
    assert owner.check_password(DEFAULT_PASSWORD)  # nothing changed by the refused form

    done = browser.post(opened["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/password-reset/done/"
    assert b"Your password is changed" in browser.get(done["Location"]).content
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD) and not owner.check_password(DEFAULT_PASSWORD)

    # The other session is over, the API token is revoked, the pause is cleared.
    assert elsewhere.get("/practices/").status_code == 302
    assert not Token.objects.filter(key=token.key).exists()
    assert not AccessAttempt.objects.filter(username=owner.email).exists()
    login = Client(HTTP_HOST=BASE).post("/login/", {"username": owner.email, "password": NEW_PASSWORD})
    assert login.status_code == 302

    # The same link again: a clear page, not a form.
    used = Client(HTTP_HOST=BASE).get(path)
    assert used.status_code == 400 and b"This link does not work" in used.content
    assert b"already been used" in used.content and b'href="/password-reset/"' in used.content


@pytest.mark.django_db
def test_forged_and_expired_links_get_a_clear_page(practice_a: Pair) -> None:
    owner, _ = practice_a
    uid = urlsafe_base64_encode(force_bytes(owner.pk))

    class AnHourAndAMinuteAgo(PasswordResetTokenGenerator):
        def _now(self) -> datetime.datetime:
            return datetime.datetime.now() - datetime.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)

    expired = AnHourAndAMinuteAgo().make_token(owner)
    fresh = PasswordResetTokenGenerator().make_token(owner)
    for path in (
        f"/password-reset/{uid}/{expired}/",
        f"/password-reset/{uid}/{fresh[:-3]}abc/",  # forged
        f"/password-reset/{uid}/{fresh[:10]}/",  # cut short
        f"/password-reset/{urlsafe_base64_encode(b'999999')}/{fresh}/",  # another account's number
        f"/password-reset/!!!/{fresh}/",
        f"/password-reset/{uid}/set-password/",  # no token in this session
    ):
        response = Client(HTTP_HOST=BASE).get(path)
        assert response.status_code == 400, path
        assert b"This link does not work" in response.content and b"Ask for a new link" in response.content
    posted = Client(HTTP_HOST=BASE).post(
        f"/password-reset/{uid}/set-password/", {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert posted.status_code == 400
    owner.refresh_from_db()
    assert owner.check_password(DEFAULT_PASSWORD)
    assert Client(HTTP_HOST=BASE).get(f"/password-reset/{uid}/{fresh}/").status_code == 302  # the real one works
