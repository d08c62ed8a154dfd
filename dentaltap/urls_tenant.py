"""URLs of a practice host (`<slug>.<base domain>`): the practice workspace and its API."""

from django.urls import include, path

from accounts.views import LogoutView
from tenants.api_docs import DocsView, SchemaView
from tenants.languages import language_switch
from tenants.practice_settings import practice_settings
from tenants.urls_helpers import public_url

urlpatterns = [
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    # Logging out from a practice posts to the practice's own host (the session cookie covers all).
    path("logout/", LogoutView.as_view(next_page=public_url("/")), name="logout"),
    path("language/", language_switch, name="language-switch"),
    path("settings/", practice_settings, name="practice-settings"),
    path("", include("tenants.team.urls")),
    path("", include("billing.urls")),
    path("", include("practice.urls")),
    path("", include("onboarding.urls")),
    path("", include("invitations.urls")),
    path("", include("referrals.urls")),
]

handler404 = "dentaltap.errors.not_found"
