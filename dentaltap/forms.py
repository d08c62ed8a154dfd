"""Shared pieces of the browser forms."""

from __future__ import annotations

from django import forms

from dentaltap.errors import ApplicationError


def form_errors_apply(form: forms.Form, error: ApplicationError) -> None:
    """Show a service's ApplicationError on a form: each message beside the field it names (on
    the form when the form has no such field), the error's message when it names no field. The
    one way a page shows what the API answers as `error.fields`."""
    for field, messages in error.fields.items():
        for text in messages:
            form.add_error(field if field in form.fields else None, text)
    if not error.fields:
        form.add_error(None, error.message)
