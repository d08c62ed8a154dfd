"""bench/access.py's `without` stack: its URL conf and a middleware that hands the view the
membership from memory (so the page renders as with the access layer, minus the lookup)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import path

from practice import views as practice_views

PRELOADED: dict[str, Any] = {}


class PreloadedMembershipMiddleware:
    def __init__(self, get_response: Callable[..., Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        request.membership = PRELOADED["membership"]
        return self.get_response(request)


# The patients page's view without its permission decorator.
urlpatterns = [path("patients/", practice_views.patient_list.__wrapped__)]  # type: ignore[attr-defined]
