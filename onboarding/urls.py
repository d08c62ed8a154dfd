from django.urls import path

from onboarding import views

urlpatterns = [
    path("onboarding/checklist/hide/", views.checklist_hide_view, name="onboarding-checklist-hide"),
]
