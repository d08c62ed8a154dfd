"""The API's pages of results (REST_FRAMEWORK's DEFAULT_PAGINATION_CLASS)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


class PageNumberPaginationChecked(PageNumberPagination):
    """Page-number pages (PAGE_SIZE per page) whose `page` must be a whole number from 1: an
    empty or malformed one is a 400 naming the field (DRF would quietly answer page 1), a page
    past the end a 404."""

    invalid_page_message = _("Page {page_number} does not exist.")  # type: ignore[assignment]
    last_page_strings = ()  # `?page=last` is not part of the API

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if raw in self.last_page_strings:
            return raw
        if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
            message = str(_("The page must be a whole number from 1."))
            raise exceptions.ValidationError({self.page_query_param: [message]})
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = str(_("The page of results, from 1 (a page past the end is a 404)."))
        return parameters
