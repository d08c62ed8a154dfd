"""The routing benchmark's URL conf: one practice view that makes one query.

It is mounted twice: under /api/, which PracticeAccessMiddleware passes through (API
permissions are DRF's), so the request costs tenant routing and nothing else; and at a page path,
where the access middleware needs a login and reads the membership, like every practice page.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from practice.models import Patient

ROUTED_PATH = "/api/bench/patients/count/"
ACCESS_CHECKED_PATH = "/bench/patients/count/"


def patient_count(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"{Patient.objects.count()} patients\n", content_type="text/plain; charset=utf-8")


urlpatterns = [
    path(ROUTED_PATH.lstrip("/"), patient_count),
    path(ACCESS_CHECKED_PATH.lstrip("/"), patient_count),
]
