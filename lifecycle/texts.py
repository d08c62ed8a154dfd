"""Step texts are Django template text written by staff: checked when saved (syntax, known
variables, no tags that reach outside the text), rendered at send time."""

from __future__ import annotations

import functools
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import VariableNode
from django.utils.translation import gettext as _

# What a step's text may use. The sample values are what the admin preview shows.
VARIABLES: dict[str, str] = {
    "recipient_name": "Dr. Anna Example",
    "practice_name": "Smile Dental",
    "practice_url": "http://smile.dentaltap.localhost:8000/",
    "action_url": "http://smile.dentaltap.localhost:8000/appointments/new/",
    "referral_link": "http://dentaltap.localhost:8000/r/EXAMPLE/",
    "unsubscribe_url": "http://dentaltap.localhost:8000/emails/unsubscribe/EXAMPLE/",
}
_FORBIDDEN_TAGS = re.compile(r"{%\s*(load|include|extends|ssi|debug|templatetag|url|csrf_token)\b")


def _engine() -> Engine:
    return Engine.get_default()


def template_check(text: str, *, field: str) -> Template:
    """The compiled template, or a ValidationError naming what is wrong (at save time, so a
    broken text never reaches the sending task)."""
    forbidden = _FORBIDDEN_TAGS.search(text)
    if forbidden:
        raise ValidationError(
            {field: _("The tag “%(tag)s” is not allowed in email texts.") % {"tag": forbidden.group(1)}}
        )
    try:
        template = _engine().from_string(text)
    except TemplateSyntaxError as error:
        raise ValidationError({field: _("This text is not a valid template: %(error)s") % {"error": error}}) from None
    used = {
        str(node.filter_expression.var).split(".")[0]
        for node in template.nodelist.get_nodes_by_type(VariableNode)
        if isinstance(node, VariableNode) and not isinstance(node.filter_expression.var, str)
    }
    unknown = sorted(used - set(VARIABLES))
    if unknown:
        raise ValidationError(
            {
                field: _("Unknown variable(s): %(names)s. Available: %(available)s.")
                % {"names": ", ".join(unknown), "available": ", ".join(VARIABLES)}
            }
        )
    try:
        template_render(template, VARIABLES)
    except Exception as error:  # noqa: BLE001 - any failure with the sample values is one at send time too
        raise ValidationError({field: _("This text fails to render: %(error)s") % {"error": error}}) from None
    return template


def template_render(template: Template, context: dict[str, Any]) -> str:
    # Plain-text email: nothing is HTML-escaped.
    return template.render(Context(context, autoescape=False))


@functools.lru_cache(maxsize=256)
def _compiled(text: str) -> Template:
    # Keyed by the text itself: an edited step compiles anew, a thousand sends compile once.
    return _engine().from_string(text)


def render_text(text: str, context: dict[str, Any]) -> str:
    return template_render(_compiled(text), context)
