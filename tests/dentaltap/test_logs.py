"""Structured logs (dentaltap/logs.py): a request and a task each write JSON lines carrying the
request id, the practice, the user id, the task's id and name; tokens in URLs, Authorization
values and email addresses never reach a line; plain text in development."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import shared_task
from django.conf import settings as django_settings
from django.test import Client

from dentaltap.logs import REQUEST_ID_HEADER, logging_settings, redact
from tenants.models import Practice, User
from tenants.tasks import run_in_practice
from tests.conftest import BASE

Pair = tuple[User, Practice]


@shared_task(name="tests.dentaltap.test_logs.log_in_practice")
def log_in_practice(practice_id: int) -> None:
    run_in_practice(
        practice_id,
        lambda practice: logging.getLogger("dentaltap.tests").warning(
            "reminder for patient jane.roe@example.com in %s", practice.slug
        ),
    )


class Lines:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]

    def text(self) -> str:
        return self.stream.getvalue()


def _configure(log_format: str) -> io.StringIO:
    logging.config.dictConfig(
        logging_settings(log_format=log_format, level="WARNING", info_loggers=["dentaltap", "tenants"])
    )
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    return stream


@pytest.fixture
def json_logs(settings: Any) -> Iterator[Lines]:
    """The console handler as DENTALTAP_LOG_FORMAT=json configures it (request lines on),
    writing into a buffer."""
    settings.LOG_REQUESTS = True
    stream = _configure("json")
    try:
        yield Lines(stream)
    finally:
        logging.config.dictConfig(django_settings.LOGGING)


def request_line(lines: Lines, request_id: str) -> dict[str, Any]:
    found = [
        line for line in lines.all() if line["logger"] == "dentaltap.requests" and line.get("request_id") == request_id
    ]
    assert len(found) == 1, lines.text()
    return found[0]


@pytest.mark.django_db
def test_a_request_writes_a_json_line_with_its_id_practice_and_user(
    practice_a: Pair, client_for: Callable[..., Client], json_logs: Lines
) -> None:
    owner, alpha = practice_a
    response = client_for(owner, alpha).get("/api/patients/?page=1", HTTP_X_REQUEST_ID="from-the-internet-1234")
    assert response.status_code == 200
    request_id = response[REQUEST_ID_HEADER]
    # Without a trusted proxy in front the client's id is not taken: one is made.
    assert request_id != "from-the-internet-1234" and len(request_id) == 32
    line = request_line(json_logs, request_id)
    assert line["practice"] == "alpha" and line["schema"] == alpha.schema_name
    assert line["user_id"] == owner.pk
    assert line["level"] == "INFO" and line["http_method"] == "GET" and line["http_status"] == 200
    assert line["message"].startswith("GET /api/patients/ 200 ")  # the query string is not logged
    assert line["time"].endswith("+00:00")


@pytest.mark.django_db
def test_a_trusted_proxys_request_id_is_kept_and_a_malformed_one_replaced(
    public_tenant: Practice, json_logs: Lines, settings: Any
) -> None:
    settings.LOG_TRUST_REQUEST_ID = True
    client = Client(HTTP_HOST=BASE)
    response = client.get("/", HTTP_X_REQUEST_ID="lb-7f3a9c2e-0001")
    assert response[REQUEST_ID_HEADER] == "lb-7f3a9c2e-0001"
    assert "user_id" not in request_line(json_logs, "lb-7f3a9c2e-0001")  # anonymous
    forged = Client(HTTP_HOST=BASE).get("/", HTTP_X_REQUEST_ID='x" injected {"level": "ERROR')
    assert forged[REQUEST_ID_HEADER] != 'x" injected {"level": "ERROR' and len(forged[REQUEST_ID_HEADER]) == 32
    request_line(json_logs, forged[REQUEST_ID_HEADER])


@pytest.mark.django_db
def test_tokens_in_urls_never_reach_a_log_line(public_tenant: Practice, json_logs: Lines) -> None:
    invitation_token = "Zx81Kq0PwVbN3mRt5YhJc7LdGf2"
    reset_token = "cz8w1k-4f9e0b2c7d1a3e5f6b8c9d0e1f2a3b4c"
    client = Client(HTTP_HOST=BASE)
    client.get(f"/invitations/{invitation_token}/?token={invitation_token}&utm=mail")
    client.get(f"/password-reset/MQ/{reset_token}/")
    client.get("/api/practices/", HTTP_AUTHORIZATION="Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b")
    logging.getLogger("dentaltap.tests").warning(
        "callback https://dentaltap.localhost/emails/unsubscribe/%s/ with key=%s", invitation_token, "sk_test_51Hx"
    )
    text = json_logs.text()
    for secret in (invitation_token, reset_token, "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", "sk_test_51Hx"):
        assert secret not in text
    messages = [line["message"] for line in json_logs.all()]
    assert any(message.startswith("GET /invitations/[redacted]/ ") for message in messages), messages
    assert any(message.startswith("GET /password-reset/MQ/[redacted]/ ") for message in messages), messages
    assert "/emails/unsubscribe/[redacted]/ with key=[redacted]" in messages[-1]


def test_redaction_keeps_what_is_not_secret() -> None:
    assert redact("GET /patients/12/edit/ 200 3.1ms") == "GET /patients/12/edit/ 200 3.1ms"
    assert redact("/api/x/?page=2&password=hunter22") == "/api/x/?page=2&password=[redacted]"
    assert redact("Authorization: Bearer abc.def.ghi-123") == "Authorization: Bearer [redacted]"
    assert redact("owner dr.who@clinic.example signed up") == "owner [email] signed up"


def test_an_exception_traceback_is_redacted_too(json_logs: Lines) -> None:
    try:
        raise ValueError("duplicate key (email)=(jane.roe@example.com)")
    except ValueError:
        logging.getLogger("dentaltap.tests").exception("saving failed")
    (line,) = json_logs.all()
    assert "jane.roe@example.com" not in json_logs.text()
    assert "ValueError: duplicate key (email)=([email])" in line["exception"]


def test_other_handlers_of_a_record_see_it_unchanged(json_logs: Lines, caplog: pytest.LogCaptureFixture) -> None:
    """Redaction is for what our handler writes: a test's capture (or an error reporter) of the
    same record still has the message as the code wrote it."""
    logging.getLogger("dentaltap.tests").warning("login paused for %s", "owner-alpha@example.com")
    assert json_logs.all()[-1]["message"] == "login paused for [email]"
    assert caplog.records[-1].getMessage() == "login paused for owner-alpha@example.com"


@pytest.mark.practice_rows_only
def test_a_task_writes_json_lines_with_its_id_name_and_practice(
    practice_a: Pair, celery_worker: object, json_logs: Lines
) -> None:
    _, alpha = practice_a
    result = log_in_practice.delay(alpha.pk)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(line.get("task_id") == result.id for line in json_logs.all()):
        time.sleep(0.1)
    (line,) = [line for line in json_logs.all() if line.get("task_id") == result.id]
    assert line["task_name"] == "tests.dentaltap.test_logs.log_in_practice"
    assert line["schema"] == alpha.schema_name and line["level"] == "WARNING"
    assert line["message"] == "reminder for patient [email] in alpha"
    assert "request_id" not in line and "user_id" not in line


def test_plain_text_in_development_carries_the_known_context(public_tenant: Practice, db: None, settings: Any) -> None:
    assert settings.LOG_REQUESTS is False  # not by default in plain text: DENTALTAP_LOG_REQUESTS=1
    settings.LOG_REQUESTS = True
    stream = _configure("plain")
    try:
        response = Client(HTTP_HOST=BASE).get("/")
    finally:
        logging.config.dictConfig(django_settings.LOGGING)
    (line,) = [line for line in stream.getvalue().splitlines() if "dentaltap.requests" in line]
    assert " INFO dentaltap.requests GET / 200 " in line
    assert line.endswith(f"[request_id={response[REQUEST_ID_HEADER]}]")
    with pytest.raises(ValueError, match="json or plain"):
        logging_settings(log_format="xml", level="INFO", info_loggers=[])
