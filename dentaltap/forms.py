"""Forms' side of the one error type: a service's ApplicationError shown on a browser form, with
the same messages the API puts in `error.fields`."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.text import capfirst

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


class ModelErrorsForm(forms.ModelForm):  # type: ignore[type-arg]
    """A model form on which the model's clean() may name a field the form does not show (an
    admin changelist's editable column, a form of a few fields): that error goes on the form as
    a whole, led by the field's name, where Django would raise ValueError instead."""

    def _update_errors(self, errors: ValidationError) -> None:
        if hasattr(errors, "error_dict"):
            shown: dict[str, list[ValidationError]] = {}
            for field, messages in errors.error_dict.items():
                if field == NON_FIELD_ERRORS or field in self.fields:
                    shown.setdefault(field, []).extend(messages)
                    continue
                label = capfirst(self._meta.model._meta.get_field(field).verbose_name)
                for message in ValidationError(messages).messages:
                    shown.setdefault(NON_FIELD_ERRORS, []).append(ValidationError(f"{label}: {message}"))
            errors = ValidationError(shown)  # type: ignore[arg-type]
        super()._update_errors(errors)  # type: ignore[misc]  # BaseModelForm._update_errors, not in the stubs
