"""`{% load translated %}`: `{{ plan|translated }}`, `{{ item|translated:"description" }}`, a
staff-entered name in the active language (English when it has no translation there)."""

from __future__ import annotations

from django import template
from django.db import models

from dentaltap import translated as names

register = template.Library()


@register.filter(name="translated")
def translated_filter(row: models.Model | None, field: str = "name") -> str:
    return names.translated(row, field)
