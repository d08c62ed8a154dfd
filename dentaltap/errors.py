"""One error type for expected failures and one shape for every API error:

{"error": {"code": "...", "message": "...", "fields": {"field": ["..."]}}}
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApplicationError(Exception):
    """An expected failure a user can act on. Services raise it; views render it."""

    code: str = "invalid"
    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.fields = fields or {}
        if status_code is not None:
            self.status_code = status_code


class ConflictError(ApplicationError):
    code: str = "conflict"
    status_code: int = status.HTTP_409_CONFLICT


def _error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": str(message), "fields": fields or {}}}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [str(item) if not isinstance(item, dict | list) else _flatten(item) for item in detail]
    return [str(detail)]


def application_error_body(error: ApplicationError) -> dict[str, Any]:
    """The one error shape for an expected failure (for answers built without DRF)."""
    return _error_body(error.code, error.message, error.fields)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(application_error_body(exc), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {}
        message = "; ".join(exc.messages)
        return Response(_error_body("invalid", message, fields), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    response = exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let it be a 500 and be reported
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail) if isinstance(exc.detail, dict) else {}
        non_field = fields.pop("non_field_errors", None) if isinstance(fields, dict) else None
        if non_field:
            message = " ".join(non_field)
        elif fields:
            message = str(_("Some fields are not valid: %(names)s.") % {"names": ", ".join(sorted(fields))})
        else:
            message = " ".join(_flatten(exc.detail))
        response.data = _error_body("invalid", message, fields)
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        message = detail if isinstance(detail, str) else " ".join(_flatten(detail))
        code = getattr(detail, "code", None) or exc.default_code
        response.data = _error_body(str(code), message)
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: an address under /api/ that names nothing answers in the API's error shape
    (a client expects JSON there); pages get the 404 page."""
    if request.path.startswith("/api/"):
        return JsonResponse(_error_body("not_found", str(_("There is no API endpoint at this address."))), status=404)
    return defaults.page_not_found(request, exception or Http404())
