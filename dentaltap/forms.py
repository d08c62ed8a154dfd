"""Forms' side of the one error type: a service's ApplicationError shown on a browser form, with
the same messages the API puts in `error.fields`."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms

from dentaltap.errors import ApplicationError


def form_errors_add(
    form: forms.BaseForm, error: ApplicationError, *, field_names: Mapping[str, str] | None = None
) -> None:
    """Put `error` on `form`: each message beside the field it names (`field_names` maps a
    service's argument name to the form's field where they differ), on the form as a whole when
    the form has no such field, and the error's own message on the form when it names no field."""
    field_names = field_names or {}
    if not error.fields:
        form.add_error(None, error.message)
    for field, messages in error.fields.items():
        name = field_names.get(field, field)
        for message in messages:
            form.add_error(name if name in form.fields else None, message)
