"""Base domain: the referrer's "My referrals" dashboard (link, messages, funnel, rewards, programs),
the reward catalogue and redemptions, and the staff analytics of the referral channel, with
their APIs. Paths and names are the ones they had under referrals."""

from django.urls import path

from rewards import (
    dashboard_apis,
    dashboard_views,
    redemption_apis,
    redemption_views,
    staff_apis,
    staff_views,
    statement_views,
)

urlpatterns = [
    path("referrals/", dashboard_views.referral_dashboard, name="my-referrals"),
    path("referrals/qr.svg", dashboard_views.referral_qr_code, name="referral-qr-code"),
    path("referrals/rewards/", redemption_views.reward_catalogue, name="reward-catalogue"),
    path("api/referrals/rewards/", redemption_apis.RewardCatalogueApi.as_view(), name="api-reward-catalogue"),
    path(
        "api/referrals/rewards/redemptions/",
        redemption_apis.RedemptionCreateApi.as_view(),
        name="api-reward-redemption-create",
    ),
    path("referrals/statement/", statement_views.affiliate_statement, name="affiliate-statement"),
    path("api/referrals/dashboard/", dashboard_apis.ReferralDashboardApi.as_view(), name="api-referral-dashboard"),
    path(
        "api/referrals/dashboard/messages/", dashboard_apis.ReferralMessagesApi.as_view(), name="api-referral-messages"
    ),
    path("api/referrals/dashboard/referrals/", dashboard_apis.ReferralListApi.as_view(), name="api-referral-list"),
    path(
        "api/referrals/dashboard/referrals/<int:referral_id>/",
        dashboard_apis.ReferralDetailApi.as_view(),
        name="api-referral-detail",
    ),
    # Staff only (is_staff): the referral channel's analytics, fraud review and exports.
    path("staff/referrals/", staff_views.staff_referral_analytics, name="staff-referral-analytics"),
    path("staff/referrals/review/<int:referral_id>/", staff_views.staff_referral_review, name="staff-referral-review"),
    path("staff/referrals/export/referrals.csv", staff_views.staff_referral_export, name="staff-referral-export"),
    path("staff/referrals/export/rewards.csv", staff_views.staff_reward_export, name="staff-reward-export"),
    # Staff only: the affiliates' monthly revenue-share statements (payouts: the admin's ledger).
    path("staff/affiliates/", statement_views.staff_affiliate_statements, name="staff-affiliate-statements"),
    path(
        "staff/affiliates/statements.csv",
        statement_views.staff_affiliate_statements_csv,
        name="staff-affiliate-statements-csv",
    ),
    path(
        "api/staff/referrals/analytics/",
        staff_apis.StaffReferralAnalyticsApi.as_view(),
        name="api-staff-referral-analytics",
    ),
    path("api/staff/referrals/review-queue/", staff_apis.StaffReviewQueueApi.as_view(), name="api-staff-review-queue"),
    path(
        "api/staff/referrals/<int:referral_id>/review/",
        staff_apis.StaffReferralReviewApi.as_view(),
        name="api-staff-referral-review",
    ),
]
