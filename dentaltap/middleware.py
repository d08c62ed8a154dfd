"""Middleware that must run before tenant routing."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

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
