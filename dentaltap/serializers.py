"""Shared pieces of the DRF serializers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from dentaltap.translated import translated


class SentLengthChecked(serializers.Serializer):  # type: ignore[type-arg]
    """Text fields take what the OpenAPI schema promises (`type: string`, `maxLength`): DRF
    turns a number or a boolean into text, and trims surrounding whitespace before counting
    (so it would accept 81 characters with a leading space in an 80-character field). Mixed
    into a serializer before its base class."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            errors: dict[str, list[str]] = {}
            for name, field in self.fields.items():
                if field.read_only or name not in data:
                    continue
                values = data[name] if isinstance(field, serializers.ListField) else [data[name]]
                limited = field.child if isinstance(field, serializers.ListField) else field
                if not isinstance(limited, serializers.CharField) or not isinstance(values, list):
                    continue
                if any(value is not None and not isinstance(value, str) for value in values):
                    errors[name] = [str(limited.error_messages["invalid"])]
                elif limited.max_length is not None and any(
                    isinstance(value, str) and len(value) > limited.max_length for value in values
                ):
                    errors[name] = [str(limited.error_messages["max_length"]).format(max_length=limited.max_length)]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class TranslatedField(serializers.CharField):
    """A staff-entered name (`dentaltap.translated`) in the request's language, English when it
    has no translation there. `source` is the row ("*": the serialized object itself, "item": a
    related one); `field` the translated field on it."""

    def __init__(self, *, field: str = "name", **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)
        self.translated_field = field

    def to_representation(self, value: Any) -> str:
        return translated(value, self.translated_field)
