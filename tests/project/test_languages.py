"""Choosing a language and receiving one (issue 13): the switcher's cookie covers every host, a
signed-in user's stored language wins over the browser on another host and device, the API
answers in the request's Accept-Language (and says so in its schema), emails go out in the
recipient's language whatever language the process runs in, and a practice's times are in its
own time zone."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import translation
from django_tenants.utils import tenant_context

from dentaltap.emails import email_language
from invitations import services as invitation_services
from invitations.models import Invitation
from practice.models import Appointment
from referrals.models import AccessRequest
from referrals.notifications import access_request_notify
from tenants.models import AccessAction, AccessChange, JoinedVia, Practice, Role, User
from tenants.services import membership_create
from tests.conftest import BASE, PORT, host
from tests.factories import AppointmentFactory, PatientFactory, UserFactory

Pair = tuple[User, Practice]
COOKIE = "dentaltap_language"


def language_of(response: Any) -> str:
    return response.headers.get("Content-Language", "")


def switch(client: Client, language: str, next_url: str = "/") -> Any:
    return client.post("/language/", {"language": language, "next": next_url})


# --------------------------------------------------------------------------- pages


@pytest.mark.practice_rows_only
@pytest.mark.django_db
def test_a_first_visit_follows_accept_language(public_tenant: Practice) -> None:
    response = Client(HTTP_HOST=BASE, HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9,en;q=0.8").get("/login/")
    assert response.status_code == 200
    assert language_of(response) == "ru"
    assert '<html lang="ru"' in response.content.decode()
    english = Client(HTTP_HOST=BASE, HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").get("/login/")
    assert language_of(english) == "en"  # a language we do not have: English


@pytest.mark.practice_rows_only
@pytest.mark.django_db
def test_the_switcher_sets_the_cookie_for_the_base_domain_and_every_practice_host(practice_a: Pair) -> None:
    _owner, alpha = practice_a
    client = Client(HTTP_HOST=BASE)
    page = client.get("/login/").content.decode()
    assert 'action="/language/"' in page and 'name="language" value="de"' in page  # on every page

    response = switch(client, "de", "/login/?next=/practices/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/practices/"
    cookie = response.cookies[COOKIE]
    assert cookie.value == "de"
    assert cookie["domain"] == f".{BASE}"  # the public site and every <slug>.<base> host
    assert cookie["max-age"] == 60 * 60 * 24 * 365
    # The browser sends it to a practice host too; it beats Accept-Language there.
    practice_client = Client(HTTP_HOST=host(alpha), HTTP_ACCEPT_LANGUAGE="ru")
    practice_client.cookies[COOKIE] = "de"
    assert language_of(practice_client.get("/login/")) == "de"
    assert language_of(client.get("/login/")) == "de"


@pytest.mark.practice_rows_only
@pytest.mark.django_db
def test_the_switcher_refuses_foreign_redirects_and_unknown_languages(public_tenant: Practice) -> None:
    client = Client(HTTP_HOST=BASE)
    response = switch(client, "ru", "https://evil.example/phish")
    assert response.status_code == 302 and response["Location"] == "/"
    unknown = switch(client, "fr", "/login/")
    assert unknown.status_code == 302 and COOKIE not in unknown.cookies
    assert client.get("/language/").status_code == 405  # a change is a POST (CSRF-checked)


@pytest.mark.practice_rows_only
@pytest.mark.django_db
def test_a_signed_in_users_choice_is_stored_and_wins_on_another_host_and_device(practice_a: Pair) -> None:
    owner, alpha = practice_a
    on_practice_host = Client(HTTP_HOST=host(alpha))
    on_practice_host.force_login(owner)
    assert switch(on_practice_host, "de", "/").status_code == 302
    owner.refresh_from_db()
    assert owner.language == "de"

    # Another device: no cookie, a Russian browser, the public site. The stored choice wins.
    other_device = Client(HTTP_HOST=BASE, HTTP_ACCEPT_LANGUAGE="ru")
    other_device.force_login(owner)
    response = other_device.get("/practices/")
    assert response.status_code == 200 and language_of(response) == "de"
    # ... and over a stale cookie naming another language.
    other_device.cookies[COOKIE] = "ru"
    assert language_of(other_device.get("/practices/")) == "de"
    owner.refresh_from_db()
    assert owner.language == "de"  # nothing overwrote it


@pytest.mark.practice_rows_only
@pytest.mark.django_db
def test_a_user_without_a_stored_language_keeps_the_one_first_seen(practice_a: Pair) -> None:
    owner, alpha = practice_a
    User.objects.filter(pk=owner.pk).update(language="")
    client = Client(HTTP_HOST=host(alpha), HTTP_ACCEPT_LANGUAGE="ru")
    client.force_login(owner)
    assert language_of(client.get("/invitations/")) == "ru"
    owner.refresh_from_db()
    assert owner.language == "ru"
    # Later from an English browser: still Russian, as stored.
    english = Client(HTTP_HOST=BASE, HTTP_ACCEPT_LANGUAGE="en")
    english.force_login(owner)
    assert language_of(english.get("/practices/")) == "ru"


# --------------------------------------------------------------------------- API


@pytest.mark.practice_rows_only
@pytest.mark.django_db
def test_api_errors_come_in_the_accept_language_of_the_request(practice_a: Pair) -> None:
    owner, alpha = practice_a
    anonymous = Client(HTTP_HOST=host(alpha), HTTP_ACCEPT_LANGUAGE="ru")
    response = anonymous.get("/api/team/members/")
    assert response.status_code == 401 and language_of(response) == "ru"
    with translation.override("ru"):
        from rest_framework.exceptions import NotAuthenticated

        russian = str(NotAuthenticated.default_detail)
    assert response.json()["error"]["message"] == russian
    assert russian != "Authentication credentials were not provided."

    # The API follows the request, not the user's stored language nor the cookie.
    User.objects.filter(pk=owner.pk).update(language="de")
    session = Client(HTTP_HOST=host(alpha), HTTP_ACCEPT_LANGUAGE="ru")
    session.force_login(owner)
    session.cookies[COOKIE] = "de"
    bad = session.post("/api/invitations/", {"emails": []}, content_type="application/json")
    assert bad.status_code == 400 and language_of(bad) == "ru"
    german = Client(HTTP_HOST=host(alpha), HTTP_ACCEPT_LANGUAGE="de").get("/api/team/members/")
    assert language_of(german) == "de" and german.json()["error"]["message"] != russian


@pytest.mark.practice_rows_only
@pytest.mark.django_db
def test_the_schema_documents_accept_language_on_every_operation(practice_a: Pair) -> None:
    owner, alpha = practice_a
    client = Client(HTTP_HOST=host(alpha))
    client.force_login(owner)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) >= 20
    for path, method, operation in operations:
        headers = [p for p in operation.get("parameters", []) if p["in"] == "header" and p["name"] == "Accept-Language"]
        assert len(headers) == 1, f"{method.upper()} {path}"
        assert headers[0].get("required", False) is False and headers[0]["schema"]["type"] == "string"


# --------------------------------------------------------------------------- the practice's time zone


@pytest.mark.django_db
def test_appointment_times_are_shown_in_the_practice_time_zone_which_the_owner_sets(practice_a: Pair) -> None:
    owner, alpha = practice_a
    with tenant_context(alpha):
        starts = datetime.datetime(2026, 12, 7, 9, 0, tzinfo=datetime.UTC)
        AppointmentFactory(patient=PatientFactory(), starts_at=starts, ends_at=starts + datetime.timedelta(minutes=30))
    client = Client(HTTP_HOST=host(alpha), HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(owner)
    assert "09:00" in client.get("/appointments/?show=all").content.decode()  # UTC by default

    response = client.post("/settings/", {"time_zone": "Europe/Moscow"})
    assert response.status_code == 302
    alpha.refresh_from_db()
    assert alpha.time_zone == "Europe/Moscow"
    page = client.get("/appointments/?show=all").content.decode()
    assert "12:00" in page and "09:00" not in page  # UTC+3
    change = AccessChange.objects.get(practice=alpha, action=AccessAction.SETTING_CHANGED)
    assert change.before == {"setting": "time_zone", "value": "UTC"}
    assert change.after == {"setting": "time_zone", "value": "Europe/Moscow"}

    # A time entered on the form is read in the practice's zone too.
    with tenant_context(alpha):
        patient = PatientFactory()
    created = client.post(
        "/appointments/new/",
        {"patient": patient.pk, "starts_at": "2026-12-08T10:00", "ends_at": "2026-12-08T10:30", "status": "scheduled"},
    )
    assert created.status_code == 302, created.content.decode()[:2000]
    with tenant_context(alpha):
        booked = Appointment.objects.get(patient=patient)
    assert booked.starts_at == datetime.datetime(2026, 12, 8, 7, 0, tzinfo=datetime.UTC)


@pytest.mark.practice_rows_only
@pytest.mark.django_db
def test_a_bad_time_zone_is_a_form_error_and_only_owners_change_it(practice_a: Pair, practice_b: Pair) -> None:
    owner, alpha = practice_a
    client = Client(HTTP_HOST=host(alpha))
    client.force_login(owner)
    assert client.get("/settings/").status_code == 200
    for bad in ("Mars/Olympus_Mons", "", "x" * 200, "../../etc/passwd"):
        response = client.post("/settings/", {"time_zone": bad})
        assert response.status_code == 400, bad
        assert 'id="id_time_zone-errors"' in response.content.decode()
    alpha.refresh_from_db()
    assert alpha.time_zone == "UTC"
    assert not AccessChange.objects.filter(practice=alpha, action=AccessAction.SETTING_CHANGED).exists()

    dentist = UserFactory()
    membership_create(user=dentist, practice=alpha, role=Role.DENTIST, joined_via=JoinedVia.INVITATION)
    as_dentist = Client(HTTP_HOST=host(alpha))
    as_dentist.force_login(dentist)
    assert as_dentist.get("/settings/").status_code == 403
    assert as_dentist.post("/settings/", {"time_zone": "Asia/Tokyo"}).status_code == 403
    # The owner of another practice, on this practice's host: not a member, nothing changes.
    other_owner, bravo = practice_b
    attacker = Client(HTTP_HOST=host(alpha))
    attacker.force_login(other_owner)
    assert attacker.post("/settings/", {"time_zone": "Asia/Tokyo"}).status_code in (302, 403)
    alpha.refresh_from_db()
    bravo.refresh_from_db()
    assert alpha.time_zone == "UTC" and bravo.time_zone == "UTC"


# --------------------------------------------------------------------------- emails


@pytest.fixture
def outbox() -> list[Any]:
    mail.outbox = []
    return mail.outbox


@pytest.mark.practice_rows_only
@pytest.mark.django_db
def test_a_german_owners_invitation_to_a_new_address_arrives_in_the_russian_the_owner_picked(
    practice_a: Pair, outbox: list[Any]
) -> None:
    owner, alpha = practice_a
    User.objects.filter(pk=owner.pk).update(language="de", full_name="Dr. Anna Weber")
    owner.refresh_from_db()
    Practice.objects.filter(pk=alpha.pk).update(time_zone="Europe/Berlin")
    client = Client(HTTP_HOST=host(alpha))
    client.force_login(owner)
    form = client.get("/invitations/").content.decode()
    assert '<option value="de" selected>' in form  # the inviter's own language by default

    response = client.post(
        "/invitations/", {"emails": "ivan@example.com", "role": Role.DENTIST, "message": "", "language": "ru"}
    )
    assert response.status_code == 200, response.content.decode()[:2000]
    invitation = Invitation.objects.get(email="ivan@example.com")
    assert invitation.language == "ru"

    with translation.override("de"):  # the process's language does not leak into the email
        assert invitation_services.invitation_send(invitation_id=invitation.pk) is True
    assert len(outbox) == 1
    message = outbox[0]
    html = message.alternatives[0][0]
    assert message.extra_headers["Content-Language"] == "ru"
    assert message.subject == f"Dr. Anna Weber приглашает вас в клинику {alpha.name} в DentalTap"
    assert "Принять приглашение:" in message.body
    assert 'lang="ru"' in html and "Принять приглашение" in html
    assert "Accept the invitation" not in message.body + html
    # The link: the public base domain and port from settings, a token, the inviter's code.
    assert f"http://dentaltap.localhost:{PORT}/invitations/" in message.body
    link = message.body.split(f"http://dentaltap.localhost:{PORT}/invitations/", 1)[1].split()[0]
    assert link in html


@pytest.mark.practice_rows_only
@pytest.mark.django_db
def test_an_invitation_to_an_existing_account_goes_out_in_its_own_language(practice_a: Pair, outbox: list[Any]) -> None:
    owner, alpha = practice_a
    UserFactory(email="klaus@example.com", language="de")
    batch = invitation_services.invitation_create_many(
        practice=alpha, invited_by=owner, emails="klaus@example.com", language="ru"
    )
    assert invitation_services.invitation_send(invitation_id=batch.created[0].pk) is True
    assert outbox[0].extra_headers["Content-Language"] == "de"
    assert "eingeladen" in outbox[0].subject
    with pytest.raises(Exception, match="languages offered"):
        invitation_services.invitation_create_many(
            practice=alpha, invited_by=owner, emails="x@example.com", language="fr"
        )
    assert not Invitation.objects.filter(email="x@example.com").exists()


def _access_request(alpha: Practice, owner: User) -> AccessRequest:
    User.objects.filter(pk=owner.pk).update(language="ru")
    requester = UserFactory(full_name="Dr. Hans Mueller", language="de")
    return AccessRequest.objects.create(practice=alpha, requester=requester)


@pytest.mark.practice_rows_only
@pytest.mark.django_db
def test_an_access_request_email_arrives_in_the_managers_language_whatever_the_process_runs_in(
    practice_a: Pair, outbox: list[Any]
) -> None:
    owner, alpha = practice_a
    access_request = _access_request(alpha, owner)
    with translation.override("de"):
        assert access_request_notify(access_request_id=access_request.pk) == 1
    message = outbox[0]
    assert message.to == [owner.email] and message.extra_headers["Content-Language"] == "ru"
    assert message.subject == f"Dr. Hans Mueller просит доступ к клинике {alpha.name}"
    assert f"http://{alpha.slug}.dentaltap.localhost:{PORT}/access-requests/{access_request.pk}/" in message.body


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_access_request_email_in_the_managers_language(
    celery_worker: object, practice_a: Pair
) -> None:
    owner, alpha = practice_a
    mail.outbox = []
    access_request = _access_request(alpha, owner)
    from referrals.tasks import access_request_notify as task

    with translation.override("de"):
        task.delay(access_request.pk)  # an id, never a lazy string
    deadline = time.monotonic() + 15
    while not mail.outbox and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(mail.outbox) == 1, "the worker did not send the email"
    assert mail.outbox[0].extra_headers["Content-Language"] == "ru"
    assert "просит доступ" in mail.outbox[0].subject


@pytest.mark.practice_rows_only
@pytest.mark.django_db
def test_a_password_reset_email_is_in_the_accounts_language(practice_a: Pair, outbox: list[Any]) -> None:
    from tenants.password_reset import password_reset_email_send

    owner, _alpha = practice_a
    User.objects.filter(pk=owner.pk).update(language="de")
    assert password_reset_email_send(email=owner.email) == 1
    assert outbox[0].extra_headers["Content-Language"] == "de"
    assert outbox[0].subject != "Reset your DentalTap password"


def test_email_language_falls_back_to_a_known_code() -> None:
    class Someone:
        language = ""

    assert email_language(user=None, fallback="ru-RU") == "ru"
    assert email_language(user=Someone(), fallback="fr") == "en"  # type: ignore[arg-type]
    Someone.language = "de"
    assert email_language(user=Someone(), fallback="ru") == "de"  # type: ignore[arg-type]


# --------------------------------------------------------------------------- share templates


@pytest.mark.django_db
def test_every_default_share_template_has_a_russian_and_a_german_version_in_the_glossarys_words() -> None:
    from referrals.models import ReferralMessageTemplate, ShareChannel
    from rewards.dashboard import share_messages

    for channel in ShareChannel.values:
        for language in ("ru", "de"):
            row = ReferralMessageTemplate.objects.get(channel=channel, language=language, is_active=True)
            assert "{link}" in row.text
        russian = ReferralMessageTemplate.objects.get(channel=channel, language="ru")
        assert "клиник" in russian.text and "практик" not in russian.text  # a practice is «клиника»
        assert "praxis" in ReferralMessageTemplate.objects.get(channel=channel, language="de").text.lower()
    messages = share_messages(link="https://dentaltap.example/r/abc", language="ru")
    assert len(messages) == len(ShareChannel.values)
    assert all("https://dentaltap.example/r/abc" in message.text for message in messages)


# Not practice_rows_only: saving a practice that has no schema makes django-tenants create it by
# every migration (15 s); the practice's schema from the recipe costs milliseconds.
@pytest.mark.django_db
def test_the_access_log_names_the_time_zone_change(practice_a: Pair) -> None:
    owner, alpha = practice_a
    client = Client(HTTP_HOST=host(alpha), HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(owner)
    assert client.post("/settings/", {"time_zone": "Europe/Berlin"}).status_code == 302
    page = client.get("/team/audit/").content.decode()
    assert "Time zone: UTC → Europe/Berlin" in page
