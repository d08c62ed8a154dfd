"""Base domain: the doors. Every signup address (page and API) leads to one service."""

from django.urls import path

from accounts import apis, views
from dentaltap.ratelimit import rate_limited

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("r/<str:code>/", views.referral_landing, name="referral-landing"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation-accept"),
    path("api/signup/", rate_limited("signup", field="email")(apis.SignupApi.as_view()), name="api-signup"),
    path("api/referrals/signup/", apis.ReferralSignupApi.as_view(), name="api-referral-signup"),
    path("api/invitations/<str:token>/signup/", apis.InvitationSignupApi.as_view(), name="api-invitation-signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path("password-reset/done/", views.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
    path("password-reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
]
