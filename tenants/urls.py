from django.urls import path

from dentaltap.ratelimit import rate_limited
from tenants import apis, views

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("practices/", views.practice_switcher, name="practice-switcher"),
    path("api/practices/", apis.PracticeListApi.as_view(), name="api-practices"),
    path("api/signup/", rate_limited("signup", field="email")(apis.SignupApi.as_view()), name="api-signup"),
]
