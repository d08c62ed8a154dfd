from django.urls import path

from dentaltap.ratelimit import rate_limited
from tenants import apis, views

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path("password-reset/done/", views.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
    path("password-reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    path("practices/", views.practice_switcher, name="practice-switcher"),
    path("api/practices/", apis.PracticeListApi.as_view(), name="api-practices"),
    path("api/signup/", rate_limited("signup", field="email")(apis.SignupApi.as_view()), name="api-signup"),
]
