"""The one way DentalTap builds an email: subject, text and HTML from templates, in the
recipient's language and (for a practice's email) the practice's time zone.

Emails are built and sent by Celery tasks after the commit that owes them, so nothing here may
depend on the process's active language: a worker runs with whatever language its last task
left, or the default. Every render happens inside `translation.override(language)` and, when a
time zone is given, `timezone.override(time_zone)`. Callers pass plain values (ids, language
codes, strings) to their tasks, never lazy strings.

A message named `<prefix>` has three templates: `<prefix>_subject.txt` (one line; whitespace is
collapsed), `<prefix>.txt` and `<prefix>.html`. Links in the context are absolute and built from
the practice's own domain (`tenants.urls_helpers.practice_url`) or the public base domain
(`public_url`), never from a request's Host header.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone, translation


class User(Protocol):
    """Whoever receives an email: the kit knows no app, only that a user may store a language."""

    language: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def email_language(*, user: User | None = None, fallback: str | None = None) -> str:
    """The language an email to this person goes out in: their stored language, else the
    fallback (e.g. the one the inviter picked for a new address), else the site's default.
    Always a code listed in LANGUAGES."""
    known = {code for code, _name in settings.LANGUAGES}
    for candidate in (getattr(user, "language", "") if user is not None else "", fallback or ""):
        code = (candidate or "").split("-")[0].lower()
        if code in known:
            return code
    return settings.LANGUAGE_CODE


def email_render(
    *, template_prefix: str, context: Mapping[str, Any], language: str, time_zone: str | None = None
) -> RenderedEmail:
    """Subject, text and HTML of one message in `language` (and `time_zone`, if given)."""
    with translation.override(language), timezone.override(time_zone or settings.TIME_ZONE):
        data = {**context, "LANGUAGE_CODE": language}
        subject = render_to_string(f"{template_prefix}_subject.txt", data)
        text = render_to_string(f"{template_prefix}.txt", data)
        html = render_to_string(f"{template_prefix}.html", data)
    return RenderedEmail(subject=" ".join(subject.split()), text=text, html=html)


def email_build(
    *,
    template_prefix: str,
    context: Mapping[str, Any],
    to: Sequence[str],
    language: str,
    time_zone: str | None = None,
    reply_to: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMultiAlternatives:
    """One message (text with an HTML alternative), ready to `.send()`."""
    rendered = email_render(template_prefix=template_prefix, context=context, language=language, time_zone=time_zone)
    return _message(rendered, to=to, language=language, reply_to=reply_to, headers=headers)


def email_build_per_language(
    *,
    template_prefix: str,
    context: Mapping[str, Any],
    recipients: Sequence[tuple[str, str]],
    time_zone: str | None = None,
) -> list[EmailMultiAlternatives]:
    """One message per `(address, language)` recipient, rendered once per language: for emails
    to a team whose members read different languages."""
    rendered: dict[str, RenderedEmail] = {}
    messages = []
    for address, language in recipients:
        if language not in rendered:
            rendered[language] = email_render(
                template_prefix=template_prefix, context=context, language=language, time_zone=time_zone
            )
        messages.append(_message(rendered[language], to=[address], language=language))
    return messages


def _message(
    rendered: RenderedEmail,
    *,
    to: Sequence[str],
    language: str,
    reply_to: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMultiAlternatives:
    # Content-Language says which language went out (mail clients, support, tests).
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(to),
        reply_to=list(reply_to) if reply_to else None,
        headers={"Content-Language": language, **(headers or {})},
    )
    message.attach_alternative(rendered.html, "text/html")
    return message
