"""The Stripe webhook's front door: what a request must be before its event enters the inbox.

Only Stripe holds the signing secret, yet a signed body is still input: a bug, a forwarder that
rewrites bodies or a leaked secret can put anything in it, and Stripe retries a 5xx for three
days. So every body is either accepted safely or refused with a 4xx naming the problem, before
anything is stored:

1. the size, before the signature is computed over it;
2. the signature against each configured secret, and its timestamp inside the tolerance in both
   directions (the SDK only refuses the past; a timestamp a year ahead would make a captured
   request replayable for a year);
3. strict UTF-8, and the nesting depth before parsing (Python's JSON parser recurses: deep
   nesting is a RecursionError);
4. JSON without NaN/Infinity (PostgreSQL's jsonb refuses them), no NUL or lone surrogate in any
   string or key (jsonb and UTF-8 refuse those);
5. the envelope fields the inbox stores, shaped as Stripe sends them: id, type, created,
   livemode, api_version, object, data.object (and its id)."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import stripe
from django.conf import settings
from django.utils.translation import gettext as _

from dentaltap.errors import ApplicationError

logger = logging.getLogger(__name__)

# Stripe's largest events (an invoice with its first lines, a subscription with its items) are
# tens of kilobytes: lists inside events are truncated by Stripe itself.
MAX_BODY_BYTES = 512 * 1024
# Stripe objects nest about eight levels deep (event → data → object → lines → data → item → …).
MAX_DEPTH = 32
# Stripe was founded in 2010; an event from before then, or from after tomorrow, is not Stripe's.
EARLIEST_CREATED = 1_262_304_000  # 2010-01-01
LATEST_CREATED_AHEAD_SECONDS = 86_400

EVENT_ID = re.compile(r"evt_[A-Za-z0-9_]{1,96}")  # at most 100 characters: the inbox column
EVENT_TYPE = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)+")
EVENT_TYPE_MAX = 100
API_VERSION = re.compile(r"[0-9A-Za-z._-]{1,40}")
OBJECT_ID = re.compile(r"[A-Za-z0-9_]{1,100}")

# The only ways a NUL or a lone surrogate gets into parsed JSON: a \u0000 or \uD800-\uDFFF
# escape (JSON forbids raw control characters in strings, and the body was decoded as strict
# UTF-8, which has no surrogates). A body without one is clean, without walking the parsed tree.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
# A JSON string literal (unrolled loop: linear, no backtracking), and the brackets left outside.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class WebhookRejected(ApplicationError):
    code = "webhook_rejected"


@dataclass(frozen=True)
class Envelope:
    """A verified event, its fields checked: what the inbox stores."""

    event_id: str
    type: str
    created: int
    livemode: bool
    api_version: str
    object_id: str
    payload: dict[str, Any]
    # The body as Stripe signed it: what the inbox stores (PostgreSQL parses it into jsonb).
    payload_text: str = ""


def body_size_check(content_length: str | int | None) -> None:
    """Refuse a body too big to be a Stripe event, from its declared length (before reading it)
    or its real one."""
    try:
        size = int(content_length or 0)
    except (TypeError, ValueError):
        size = 0
    if size > MAX_BODY_BYTES:
        raise WebhookRejected(
            _("The payload is %(size)d bytes; a Stripe event is at most %(limit)d.")
            % {"size": size, "limit": MAX_BODY_BYTES},
            code="payload_too_large",
            status_code=413,
        )


def _signature_timestamps(header: str) -> list[int]:
    stamps = []
    for item in header.split(","):
        name, _sep, value = item.strip().partition("=")
        if name == "t":
            try:
                stamps.append(int(value))
            except ValueError:
                return []
    return stamps


def signature_verify(text: str, header: str | None) -> None:
    """The `Stripe-Signature` header is valid for `text` under one of the configured secrets
    (several during a rotation), and dated inside the tolerance, past or future."""
    if not header:
        raise WebhookRejected(_("Missing Stripe-Signature header."), code="missing_signature")
    secrets = [secret for secret in settings.STRIPE_WEBHOOK_SECRETS if secret]
    if not secrets:
        raise WebhookRejected(_("Webhook secret is not configured."), code="not_configured", status_code=503)
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE
    stamps = _signature_timestamps(header)
    if len(stamps) != 1:
        raise WebhookRejected(_("Invalid or stale Stripe signature."), code="bad_signature")
    if stamps[0] > time.time() + tolerance:
        raise WebhookRejected(
            _("The Stripe signature is dated in the future (beyond the %(seconds)d-second tolerance).")
            % {"seconds": tolerance},
            code="bad_signature",
        )
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, header, secret, tolerance)
            return
        except stripe.SignatureVerificationError:
            continue
    raise WebhookRejected(_("Invalid or stale Stripe signature."), code="bad_signature")


def _nesting_depth_exceeds(text: str, limit: int) -> bool:
    # The brackets outside string literals, then their running depth, summed in C: a Python loop
    # per bracket was the costliest check of a webhook request (issue 14).
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    if len(brackets) <= limit:
        return False
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0) > limit


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _bad_text(value: str) -> bool:
    """NUL, or a lone surrogate (a `\\ud800` escape with no pair): neither can be stored."""
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _has_bad_text(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _bad_text(item):
                return True
        elif isinstance(item, dict):
            for key, child in item.items():
                if _bad_text(key):
                    return True
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _field_error(field: str, message: str) -> WebhookRejected:
    return WebhookRejected(
        _("The event's %(field)s is not valid: %(problem)s") % {"field": field, "problem": message},
        code="invalid_event",
        fields={field: [message]},
    )


def _check_envelope(event: dict[str, Any], *, text_may_be_bad: bool = True) -> Envelope:  # noqa: PLR0912
    """The envelope's fields, each checked; `text_may_be_bad` False skips looking for NUL and
    lone surrogates (the raw body has no escape that could make one)."""
    required = ("id", "type", "created", "livemode", "data")
    for field in required:
        if field not in event:
            raise _field_error(field, _("missing."))
    event_id = event["id"]
    if not (isinstance(event_id, str) and EVENT_ID.fullmatch(event_id)):
        raise _field_error("id", _("a Stripe event id is evt_ followed by at most 96 letters, digits or _."))
    event_type = event["type"]
    if not (isinstance(event_type, str) and len(event_type) <= EVENT_TYPE_MAX and EVENT_TYPE.fullmatch(event_type)):
        problem = _("a Stripe event type is dotted lower-case words, at most %(max)d characters.")
        raise _field_error("type", problem % {"max": EVENT_TYPE_MAX})
    created = event["created"]
    latest = int(time.time()) + LATEST_CREATED_AHEAD_SECONDS
    if not (isinstance(created, int) and not isinstance(created, bool) and EARLIEST_CREATED <= created <= latest):
        raise _field_error("created", _("it must be a Unix time between 2010 and tomorrow."))
    if not isinstance(event["livemode"], bool):
        raise _field_error("livemode", _("it must be true or false."))
    api_version = event.get("api_version")
    if api_version is not None and not (isinstance(api_version, str) and API_VERSION.fullmatch(api_version)):
        raise _field_error("api_version", _("it must be a Stripe API version, at most 40 characters."))
    if event.get("object", "event") != "event":
        raise _field_error("object", _("a webhook carries an event."))
    data = event["data"]
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise _field_error("data", _("data.object must be the Stripe object the event is about."))
    object_id = obj.get("id", "")
    if object_id != "" and not (isinstance(object_id, str) and OBJECT_ID.fullmatch(object_id)):
        raise _field_error("data", _("data.object.id must be a Stripe id, at most 100 letters, digits or _."))
    if text_may_be_bad:
        for field in required:
            if field != "data" and _has_bad_text(event[field]):
                raise _field_error(field, _("it contains a NUL or an unpaired surrogate character."))
    if text_may_be_bad and _has_bad_text(event):
        raise _field_error("data", _("it contains a NUL or an unpaired surrogate character."))
    return Envelope(
        event_id=event_id,
        type=event_type,
        created=created,
        livemode=event["livemode"],
        api_version=api_version or "",
        object_id=object_id,
        payload=event,
    )


def envelope_read(*, payload: bytes, signature: str | None) -> Envelope:
    """A verified, checked event from a webhook request body; WebhookRejected (a 4xx) otherwise."""
    body_size_check(len(payload))
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected(_("The payload is not UTF-8 text."), code="malformed_payload") from None
    signature_verify(text, signature)
    if _nesting_depth_exceeds(text, MAX_DEPTH):
        logger.warning("signed Stripe webhook refused: nested deeper than %d", MAX_DEPTH)
        raise WebhookRejected(
            _("The payload nests deeper than %(depth)d levels; a Stripe event does not.") % {"depth": MAX_DEPTH},
            code="payload_too_deep",
        )
    try:
        event = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise WebhookRejected(_("The payload is not valid JSON."), code="malformed_payload") from None
    if not isinstance(event, dict):
        raise WebhookRejected(_("The payload is not a Stripe event."), code="malformed_payload")
    try:
        envelope = _check_envelope(event, text_may_be_bad=_SUSPECT_ESCAPE.search(text) is not None)
    except WebhookRejected as error:
        logger.warning("signed Stripe webhook refused: %s %s", error.code, error.fields)
        raise
    return dataclasses.replace(envelope, payload_text=text)
