"""Base domain: referral links, the user's own link page, and their API."""

from django.urls import path

from referrals import apis, views

urlpatterns = [
    path(
        "referrals/access-requests/<int:access_request_id>/withdraw/",
        views.access_request_withdraw,
        name="access-request-withdraw",
    ),
    path("api/referrals/me/", apis.ReferralMeApi.as_view(), name="api-referrals-me"),
    path(
        "api/referrals/access-requests/<int:access_request_id>/withdraw/",
        apis.AccessRequestWithdrawApi.as_view(),
        name="api-access-request-withdraw",
    ),
]
