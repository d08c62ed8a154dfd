"""dentaltap.forms.form_errors_add: a service's ApplicationError on a browser form."""

from __future__ import annotations

from django import forms

from dentaltap.errors import ApplicationError
from dentaltap.forms import form_errors_add


class _Form(forms.Form):
    email = forms.CharField(required=False)
    expires_on = forms.DateField(required=False)


def _form() -> _Form:
    form = _Form(data={})
    assert form.is_valid()
    return form


def test_messages_go_beside_the_fields_they_name() -> None:
    form = _form()
    form_errors_add(form, ApplicationError("Not valid.", fields={"email": ["Taken.", "Too long."]}))
    assert form.errors == {"email": ["Taken.", "Too long."]}  # the summary message is not repeated


def test_an_error_without_fields_is_shown_on_the_form() -> None:
    form = _form()
    form_errors_add(form, ApplicationError("Your plan allows 50 patients."))
    assert form.non_field_errors() == ["Your plan allows 50 patients."]
    assert set(form.errors) == {"__all__"}


def test_a_field_the_form_does_not_have_is_shown_on_the_form() -> None:
    form = _form()
    form_errors_add(form, ApplicationError("Not valid.", fields={"schema": ["Gone."]}))
    assert form.non_field_errors() == ["Gone."]


def test_service_names_can_map_to_the_forms_fields() -> None:
    form = _form()
    form_errors_add(
        form,
        ApplicationError("Not valid.", fields={"expires_at": ["In the past."]}),
        field_names={"expires_at": "expires_on"},
    )
    assert form.errors == {"expires_on": ["In the past."]}
