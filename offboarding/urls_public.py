from django.urls import path

from offboarding import views

# Staff only (is_staff): export, delete and restore one practice.
urlpatterns = [
    path("staff/practices/offboarding/", views.staff_practice, name="staff-offboarding"),
    path("staff/practices/offboarding/restore/", views.staff_practice_restore, name="staff-offboarding-restore"),
    path("staff/practices/<slug:slug>/export/", views.staff_practice_export, name="staff-offboarding-export"),
    path("staff/practices/<slug:slug>/delete/", views.staff_practice_delete, name="staff-offboarding-delete"),
]
