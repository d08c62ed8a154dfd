"""Logs a platform can read: one JSON object a line, or plain text in development.

`DENTALTAP_LOG_FORMAT=json` (settings: `LOG_FORMAT`) switches the console handler to
`JsonFormatter`; plain text otherwise. Either way every record passes `ContextFilter` (the
request id, the practice, the user id, the Celery task id and name, from context variables set by
`RequestContextMiddleware` and the task signals connected in `dentaltap.apps`) and
`RedactionFilter` (tokens in URLs and query strings, `Authorization` values, passwords, email
addresses: never in a log line). Nothing here logs a request body, a form or a task's arguments,
so patient data reaches a log only if code writes it into a message, which it must not.

`RequestContextMiddleware` (first in MIDDLEWARE) accepts the `X-Request-ID` of a trusted proxy
(`LOG_TRUST_REQUEST_ID`) when it looks like an id, makes one otherwise, answers with it, and
(`LOG_REQUESTS`: on with JSON) logs one line per request on `dentaltap.requests`: method, path
(redacted), status, duration.

This module is read by the settings (`logging_settings`): it imports nothing from Django's
database layer at import time.
"""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.utils.functional import SimpleLazyObject, empty

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept as someone else's request id: an id, not a place to smuggle text into the logs.
_REQUEST_ID_SHAPE = re.compile(r"^[A-Za-z0-9._:-]{8,128}\Z")
# The context fields of every record (None when unknown).
CONTEXT_FIELDS = ("request_id", "practice", "schema", "user_id", "task_id", "task_name")

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("dentaltap_request_id", default=None)
_request: contextvars.ContextVar[Any] = contextvars.ContextVar("dentaltap_request", default=None)
_task: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("dentaltap_task", default=None)

request_logger = logging.getLogger("dentaltap.requests")

# --------------------------------------------------------------------------- redaction

REDACTED = "[redacted]"
_SECRET_NAMES = r"(?:token|key|api_key|password|passwd|secret|signature|sig|code|session(?:id)?|csrf\w*|auth\w*)"  # noqa: S105
_REDACTIONS: list[tuple[re.Pattern[str], str]] = [
    # query strings and form-like text: ?token=..., &password=...
    (re.compile(rf"(?i)([?&;]|\b)({_SECRET_NAMES})=([^&\s;\"']+)"), rf"\1\2={REDACTED}"),
    # Authorization values and Stripe-like secrets
    (re.compile(r"(?i)\b(Token|Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {REDACTED}"),
    (re.compile(r"\b(?:sk|rk|whsec|pk)_(?:live|test)?_?[A-Za-z0-9]{6,}"), REDACTED),
    # the URLs that carry a secret in their path (invitations, password resets, unsubscribe links)
    (
        re.compile(r"(?i)(/(?:invitations|password-reset/[A-Za-z0-9_-]+|unsubscribe)/)(?!set-password/)[^/?\s\"']+"),
        rf"\1{REDACTED}",
    ),
    # any other long random-looking path segment (letters and digits, 20 or more)
    (re.compile(r"(?<=/)(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,}(?=[/?\s\"']|$)"), REDACTED),
    # email addresses (users', patients')
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
]


def redact(text: str) -> str:
    """`text` without the secrets and personal data the patterns above recognise."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _query_removed(path: str) -> str:
    return path.split("?", 1)[0]


class RedactionFilter(logging.Filter):
    """Puts the record's message (its arguments merged in) and its traceback, redacted, on the
    record as `redacted_message` and `redacted_exception`, which the formatters here write (a
    stock formatter can use `%(redacted_message)s`). The record's own fields are left as they
    are: other handlers of the same record (a test's capture, an error reporter) see it unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.redacted_message = redact(_message(record))
        record.redacted_exception = redact(_exception_text(record)) if record.exc_info or record.exc_text else None
        return True


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format string is logged as it is
        return str(record.msg)


def _exception_text(record: logging.LogRecord) -> str:
    if record.exc_text:
        return record.exc_text
    return logging.Formatter().formatException(record.exc_info) if record.exc_info else ""


def redacted_message(record: logging.LogRecord) -> str:
    value = getattr(record, "redacted_message", None)
    return value if isinstance(value, str) else redact(_message(record))


def redacted_exception(record: logging.LogRecord) -> str | None:
    if not (record.exc_info or record.exc_text):
        return None
    value = getattr(record, "redacted_exception", None)
    return value if isinstance(value, str) else redact(_exception_text(record))


# --------------------------------------------------------------------------- context


class ContextFilter(logging.Filter):
    """Puts the request id, practice, schema, user id and task on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in log_context().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def log_context() -> dict[str, Any]:
    """The context fields for a record written now, in this thread or task."""
    from django.db import connection  # noqa: PLC0415 - not while the settings load

    request = _request.get()
    tenant = getattr(request, "tenant", None) if request is not None else None
    schema = getattr(connection, "schema_name", None)
    task = _task.get()
    return {
        "request_id": _request_id.get(),
        "practice": getattr(tenant, "slug", None) if getattr(tenant, "schema_name", "public") != "public" else None,
        "schema": schema if schema and schema != "public" else None,
        "user_id": _user_id(request),
        "task_id": task[0] if task else None,
        "task_name": task[1] if task else None,
    }


def _user_id(request: Any) -> int | None:
    """Only a user the request has already loaded (the session's, or the API token's that DRF
    puts on the request): a log line never queries the database."""
    if request is None:
        return None
    user = request.__dict__.get("_cached_user") or request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        user = None if user._wrapped is empty else user._wrapped
    return getattr(user, "pk", None) if user is not None and getattr(user, "is_authenticated", False) else None


@contextmanager
def task_context(task_id: str, task_name: str) -> Iterator[None]:
    token = _task.set((task_id, task_name))
    try:
        yield
    finally:
        _task.reset(token)


_task_tokens: dict[str, contextvars.Token[tuple[str, str] | None]] = {}


def task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """Celery's task_prerun: the task's id and name go on its log lines."""
    if task_id:
        _task_tokens[task_id] = _task.set((task_id, getattr(task, "name", "?")))


def task_finished(task_id: str | None = None, **_: Any) -> None:
    """Celery's task_postrun."""
    token = _task_tokens.pop(task_id, None) if task_id else None
    if token is not None:
        _task.reset(token)


def task_signals_connect() -> None:
    from celery import signals  # noqa: PLC0415

    signals.task_prerun.connect(task_started, weak=False, dispatch_uid="dentaltap-logs-task-started")
    signals.task_postrun.connect(task_finished, weak=False, dispatch_uid="dentaltap-logs-task-finished")


# --------------------------------------------------------------------------- requests


def request_id_accepted(value: str | None, *, trusted: bool) -> str:
    """The request's id: a trusted proxy's when it has the shape of one, a new one otherwise."""
    if trusted and value and _REQUEST_ID_SHAPE.match(value):
        return value
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """First in MIDDLEWARE: the request id for every log line of the request, the answer's
    `X-Request-ID`, and one line when the answer leaves."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        from django.conf import settings  # noqa: PLC0415

        self.get_response = get_response
        self.trusted = bool(getattr(settings, "LOG_TRUST_REQUEST_ID", False))
        self.lines = bool(getattr(settings, "LOG_REQUESTS", True))

    def __call__(self, request: Any) -> Any:
        request_id = request_id_accepted(request.headers.get(REQUEST_ID_HEADER), trusted=self.trusted)
        request.request_id = request_id
        tokens = (_request_id.set(request_id), _request.set(request))
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            if not self.lines:
                return response
            request_logger.info(
                "%s %s %s %.1fms",
                request.method,
                _query_removed(request.path),
                response.status_code,
                (time.monotonic() - started) * 1000,
                extra={"http_method": request.method, "http_status": response.status_code},
            )
            return response
        finally:
            _request.reset(tokens[1])
            _request_id.reset(tokens[0])


# --------------------------------------------------------------------------- formatting


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, the context fields,
    http_method/http_status on request lines, and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redacted_message(record),
        }
        for name in (*CONTEXT_FIELDS, "http_method", "http_status"):
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        exception = redacted_exception(record)
        if exception:
            entry["exception"] = exception
        return json.dumps(entry, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """Development: the time, level, logger and message (redacted), then the context that is
    known, then the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {redacted_message(record)}"
        context = " ".join(f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if getattr(record, name, None))
        if context:
            line = f"{line} [{context}]"
        exception = redacted_exception(record)
        return f"{line}\n{exception}" if exception else line


def logging_settings(*, log_format: str, level: str, info_loggers: list[str]) -> dict[str, Any]:
    """The LOGGING setting: the console in `log_format` ("json" or "plain"), both filters on it."""
    if log_format not in ("json", "plain"):
        raise ValueError(f"DENTALTAP_LOG_FORMAT must be json or plain, not {log_format!r}")
    formatter: dict[str, Any] = (
        {"()": "dentaltap.logs.JsonFormatter"} if log_format == "json" else {"()": "dentaltap.logs.PlainFormatter"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "dentaltap.logs.ContextFilter"},
            "redaction": {"()": "dentaltap.logs.RedactionFilter"},
        },
        "formatters": {log_format: formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["context", "redaction"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {name: {"level": "INFO"} for name in info_loggers},
    }
