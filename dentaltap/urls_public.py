"""URLs of the base domain: the public site, signup/login, the switcher, the staff admin."""

from django.contrib import admin
from django.urls import include, path

from tenants.api_docs import DocsView, SchemaView
from tenants.languages import language_switch

admin.site.site_header = "DentalTap staff admin"
admin.site.site_title = "DentalTap admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    # The schema of the base domain's own URLs (the default would describe the practice hosts').
    path("api/schema/", SchemaView.as_view(urlconf="dentaltap.urls_public"), name="api-schema"),
    path("api/docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("language/", language_switch, name="language-switch"),
    path("", include("tenants.urls")),
    path("", include("accounts.urls")),
    path("", include("billing.urls_public")),
    path("", include("invitations.urls_public")),
    path("", include("referrals.urls_public")),
    path("", include("rewards.urls_public")),
    path("", include("lifecycle.urls_public")),
    path("", include("offboarding.urls_public")),
]

handler404 = "dentaltap.errors.not_found"
