"""Practice host: access requests from referral links, the practice's link setting, and a partner
code entered on the Billing page."""

from django.urls import path

from referrals import apis, partner_views, views

urlpatterns = [
    path("access-requests/", views.access_request_list, name="access-request-list"),
    path("access-requests/settings/", views.referral_settings_update, name="referral-settings"),
    path("access-requests/<int:access_request_id>/", views.access_request_review, name="access-request-review"),
    path("api/access-requests/", apis.AccessRequestListApi.as_view(), name="api-access-requests"),
    path(
        "api/access-requests/<int:access_request_id>/approve/",
        apis.AccessRequestApproveApi.as_view(),
        name="api-access-request-approve",
    ),
    path(
        "api/access-requests/<int:access_request_id>/decline/",
        apis.AccessRequestDeclineApi.as_view(),
        name="api-access-request-decline",
    ),
    path("billing/partner-code/", partner_views.partner_code_redeem, name="partner-code-redeem"),
    path("api/billing/partner-code/", partner_views.PartnerCodeApi.as_view(), name="api-partner-code"),
    path("api/referral-settings/", apis.ReferralSettingsApi.as_view(), name="api-referral-settings"),
]
