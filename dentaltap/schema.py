"""The OpenAPI schema tells the truth about the API (drf-spectacular), checked by schemathesis in
tests/project/test_api_schema.py:

- every error answer has the project's one shape, `{"error": {"code", "message", "fields"}}`
  (dentaltap.errors), documented once as the `Error` component and listed on every operation
  with the statuses it can give: 400 for a body or query to validate, 401 and 403 where a login
  and a membership are needed, 404 where a path names a row or a list has pages; operations
  add their own (409, 429) with `error_responses(...)`;
- list endpoints that answer a page of results are documented as that page
  (`pagination_class` on the view), with a `page` parameter that is validated (400, not a
  silent first page: dentaltap/pagination.py);
- every operation documents the `Accept-Language` header, which picks the language of its
  messages (errors included);
- nested `InputSerializer` / `OutputSerializer` classes get component names from their view,
  so two views' "Input" never collide.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework.permissions import AllowAny
from rest_framework.serializers import Serializer

ERROR_COMPONENT: dict[str, Any] = {
    "type": "object",
    "description": "The one shape of every error answer of the API.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Machine-readable, e.g. `invalid`, `not_found`."},
                "message": {"type": "string", "description": "What went wrong, in words a user can act on."},
                "fields": {
                    "type": "object",
                    "description": "Messages per input field (a list, or an object for nested fields).",
                    "additionalProperties": {"anyOf": [{"type": "array"}, {"type": "object"}]},
                },
            },
            "required": ["code", "message", "fields"],
        }
    },
    "required": ["error"],
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}

ERROR_DESCRIPTIONS = {
    400: "The request is not valid: `error.fields` names each field and what is wrong with it.",
    401: "No valid credentials: log in (session) or send `Authorization: Token <key>`.",
    403: "Not a member of this practice, or the member's role does not allow this.",
    404: "Nothing with this id here (ids are per practice), or no such page.",
    409: "The request conflicts with the current state (e.g. already answered, no longer pending).",
    410: "The link is no longer usable (expired, revoked or used).",
    429: "Too many attempts: wait as long as `Retry-After` says.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """For `@extend_schema(responses={..., **error_responses(409)})` on operations with statuses
    the general rules below cannot know."""
    return {status: OpenApiResponse(response=ERROR_REF, description=ERROR_DESCRIPTIONS[status]) for status in statuses}


# Every operation answers in the language the request asks for (Django's LocaleMiddleware;
# tenants/languages.py): error messages, labels, formatted values.
ACCEPT_LANGUAGE = OpenApiParameter(
    name="Accept-Language",
    location=OpenApiParameter.HEADER,
    required=False,
    type=str,
    description=(
        "The language of messages in the answer, error messages included: `en` (the default), "
        "`de` or `ru`, or a browser-style list such as `ru-RU,ru;q=0.9,en;q=0.8`. Other "
        "languages fall back to English."
    ),
    examples=[OpenApiExample("Russian", value="ru"), OpenApiExample("German", value="de")],
)


class DentalTapAutoSchema(AutoSchema):
    def get_override_parameters(self) -> list[Any]:
        return [*super().get_override_parameters(), ACCEPT_LANGUAGE]

    def get_serializer_name(self, serializer: Serializer[Any], direction: Any) -> str:
        # `SomeApi.InputSerializer` -> `SomeInput` (spectacular strips "Serializer").
        parts = [part for part in type(serializer).__qualname__.split(".") if not part.startswith("<")]
        if len(parts) >= 2:
            outer = parts[-2].removesuffix("Api").removesuffix("View")
            return f"{outer}{parts[-1]}"
        return super().get_serializer_name(serializer, direction)

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        self.registry.register_on_missing(
            ResolvedComponent(name="Error", type=ResolvedComponent.SCHEMA, object="Error", schema=ERROR_COMPONENT)
        )
        responses: dict[str, Any] = operation.setdefault("responses", {})
        for status in self._error_statuses(operation):
            responses.setdefault(
                str(status),
                {"content": {"application/json": {"schema": ERROR_REF}}, "description": ERROR_DESCRIPTIONS[status]},
            )
        return operation

    def _error_statuses(self, operation: dict[str, Any]) -> list[int]:
        statuses: list[int] = []
        parameters = operation.get("parameters", [])
        has_body = self.method in ("POST", "PUT", "PATCH")
        if has_body or any(parameter.get("in") == "query" for parameter in parameters):
            statuses.append(400)  # validation, and a body that is not JSON (parse error)
        if AllowAny not in getattr(self.view, "permission_classes", ()):
            statuses += [401, 403]
        paginated = self.method == "GET" and self._is_list_view() and self._get_paginator() is not None
        if paginated or any(parameter.get("in") == "path" for parameter in parameters):
            statuses.append(404)
        return statuses
