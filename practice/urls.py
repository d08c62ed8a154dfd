from django.urls import include, path
from rest_framework.routers import DefaultRouter

from practice import apis, views

router = DefaultRouter()
router.register("patients", apis.PatientViewSet, basename="api-patient")
router.register("appointments", apis.AppointmentViewSet, basename="api-appointment")

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/new/", views.patient_create, name="patient-create"),
    path("patients/<int:patient_id>/edit/", views.patient_edit, name="patient-edit"),
    path("appointments/", views.appointment_list, name="appointment-list"),
    path("appointments/new/", views.appointment_create, name="appointment-create"),
    path("appointments/<int:appointment_id>/edit/", views.appointment_edit, name="appointment-edit"),
    path("api/", include(router.urls)),
]
