"""Middleware that must run before tenant routing, and the caching rule for every answer."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers

from dentaltap import health


class HealthCheckMiddleware:
    """Answers /healthz on any host, before tenant routing: load balancers probe by IP."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            report = health.check()
            return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
        return self.get_response(request)


class NoStoreMiddleware:
    """No cache (a proxy's, the browser's on a shared computer) keeps a copy of our pages or API
    answers: they carry patient and practice data, or a login's. Every dynamic answer gets
    Django's never-cache headers (`Cache-Control: max-age=0, no-cache, no-store, must-revalidate,
    private`), whatever a view set. Static files keep their cache lifetimes: WhiteNoise answers
    them before this runs (and the path check covers serving them any other way)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(settings.STATIC_URL):
            del response["Cache-Control"]
            add_never_cache_headers(response)
        return response
