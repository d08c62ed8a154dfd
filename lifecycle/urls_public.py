from django.urls import path

from lifecycle import views

urlpatterns = [
    path("emails/unsubscribe/<str:token>/", views.unsubscribe, name="lifecycle-unsubscribe"),
    # Staff only (is_staff): onboarding figures per signup cohort.
    path("staff/onboarding/cohorts/", views.staff_cohorts, name="staff-onboarding-cohorts"),
    path("staff/onboarding/cohorts.csv", views.staff_cohorts_export, name="staff-onboarding-cohorts-export"),
]
