"""URLs of a practice host (`<slug>.<base domain>`): the practice workspace and its API."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("tenants.team_urls")),
    path("", include("billing.urls")),
    path("", include("practice.urls")),
    path("", include("invitations.urls")),
    path("", include("referrals.urls")),
]
