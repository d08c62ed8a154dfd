from django.urls import path

from tenants import apis, views

urlpatterns = [
    path("", views.home, name="home"),
    path("practices/", views.practice_switcher, name="practice-switcher"),
    path("api/practices/", apis.PracticeListApi.as_view(), name="api-practices"),
]
