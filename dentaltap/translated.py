"""Names staff enter in the admin that dentists read (a program, a tier, a catalogue item, a
plan), in English, Russian and German: the one way to read them in a language, and to say
which translation a visible row lacks.

A translated field is three columns: `<field>` (English, the row's canonical name: staff pages,
logs and webhook payloads use it) and `<field>_ru`, `<field>_de` (empty: not translated yet).
`translated(row, "name")` is the value in the active language (an email renders inside
`translation.override(recipient's language)`, so it is the recipient's), falling back to
English when that column is empty. Three plain columns rather than one JSON field: the admin
shows and validates them as ordinary fields side by side, each keeps the English field's
length limit, a missing translation is a plain `name_ru=""` query, and there is no shape to
validate. Adding a language is a migration per model, which three fixed languages can afford."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import translation
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext_lazy as _

# The languages besides English a translated field has a column for: settings.LANGUAGES but
# English (tests/project/test_translated_rows.py fails when a language is added without them).
TRANSLATED_LANGUAGES: tuple[str, ...] = ("ru", "de")


def translated_column(field: str, language: str) -> str:
    """The column holding `field` in `language` (English: the field itself)."""
    return field if language == settings.LANGUAGE_CODE else f"{field}_{language}"


def translated_columns(*fields: str) -> list[str]:
    """Every column of these translated fields (for `.only()` and the admin's fieldsets)."""
    return [translated_column(field, language) for field in fields for language in ("en", *TRANSLATED_LANGUAGES)]


def translated(row: models.Model | None, field: str = "name", *, language: str | None = None) -> str:
    """`row.<field>` in `language` (default: the active one), or in English when it has no
    translation there. Empty for no row."""
    if row is None:
        return ""
    english = str(getattr(row, field) or "")
    code = (language or translation.get_language() or settings.LANGUAGE_CODE).split("-")[0].lower()
    if code not in TRANSLATED_LANGUAGES:
        return english
    return str(getattr(row, translated_column(field, code), "") or "") or english


# The same value, read when rendered: for a context built once and rendered per recipient.
translated_lazy = lazy(translated, str)


def translations_missing(row: models.Model, *fields: str) -> dict[str, str]:
    """The translation columns of `fields` that are empty where the English one is not, each
    with the language it lacks: {"name_de": "de"}."""
    missing = {}
    for field in fields:
        if not str(getattr(row, field) or "").strip():
            continue
        for language in TRANSLATED_LANGUAGES:
            column = translated_column(field, language)
            if not str(getattr(row, column) or "").strip():
                missing[column] = language
    return missing


def translations_missing_errors(row: models.Model, *fields: str, reason: str | Promise) -> dict[str, str]:
    """Form errors for `translations_missing`, each naming the language: for a model's clean()
    when the row is visible to dentists (`reason` says why it is)."""
    return {
        column: _("Needed in %(language)s: %(reason)s")
        % {"language": dict(settings.LANGUAGES)[language], "reason": reason}
        for column, language in translations_missing(row, *fields).items()
    }


def translations_require(row: models.Model, *fields: str, reason: str | Promise) -> None:
    """Refuse (ValidationError, per column) a visible row that lacks a translation of `fields`."""
    if errors := translations_missing_errors(row, *fields, reason=reason):
        raise ValidationError(errors)


def translations_complete_display(*fields: str) -> Callable[[Any, models.Model], bool]:
    """An admin list column: has the row every translation of `fields` it needs?"""

    @admin.display(boolean=True, description=_("in every language"))
    def column(admin_view: Any, row: models.Model) -> bool:
        return not translations_missing(row, *fields)

    return column


def _blank(column: str) -> models.Q:
    return models.Q(**{f"{column}__regex": r"^\s*$"})


def translations_missing_q(*fields: str) -> models.Q:
    """Rows that lack a translation of `fields` (as `translations_missing` reads one row)."""
    missing = models.Q(pk__in=[])
    for field in fields:
        for language in TRANSLATED_LANGUAGES:
            missing |= ~_blank(field) & _blank(translated_column(field, language))
    return missing


def translations_filter(*fields: str) -> type[admin.SimpleListFilter]:
    """An admin list filter: the rows missing a translation of `fields`, or those in every
    language (rows made before the translations, or hidden ones, may lack them)."""

    class TranslationsFilter(admin.SimpleListFilter):
        title = _("translations")
        parameter_name = "translations"

        def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, Any]]:
            return [("missing", _("missing a translation")), ("complete", _("in every language"))]

        def queryset(self, request: Any, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
            if self.value() == "missing":
                return queryset.filter(translations_missing_q(*fields))
            if self.value() == "complete":
                return queryset.exclude(translations_missing_q(*fields))
            return queryset

    return TranslationsFilter
