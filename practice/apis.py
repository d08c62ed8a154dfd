"""Practice workspace API, served on each practice's host. Ids are per practice schema: an id
from another practice names nothing here (or this practice's own row), never the other's."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers, viewsets

from dentaltap.serializers import SentLengthChecked
from practice import services
from practice.models import Appointment, Patient
from tenants.access import Permission, current_practice


class PatientSerializer(SentLengthChecked, serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = (
            "id",
            "first_name",
            "last_name",
            "date_of_birth",
            "email",
            "phone",
            "notes",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "created_at", "updated_at")


class AppointmentSerializer(SentLengthChecked, serializers.ModelSerializer):
    class Meta:
        model = Appointment
        fields = ("id", "patient", "starts_at", "ends_at", "reason", "status", "notes", "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        starts_at = attrs.get("starts_at", getattr(self.instance, "starts_at", None))
        ends_at = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if starts_at and ends_at and ends_at <= starts_at:
            raise serializers.ValidationError({"ends_at": ["The end must be after the start."]})
        return attrs


class PatientViewSet(viewsets.ModelViewSet):
    queryset = Patient.objects.all()
    serializer_class = PatientSerializer
    required_permissions = {"read": Permission.VIEW_PATIENTS, "write": Permission.EDIT_PATIENTS}
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def perform_create(self, serializer: serializers.BaseSerializer[Patient]) -> None:
        serializer.instance = services.patient_create(
            practice=current_practice(self.request), **serializer.validated_data
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Patient]) -> None:
        serializer.instance = services.patient_update(
            practice=current_practice(self.request), patient=self.get_object(), **serializer.validated_data
        )


class AppointmentViewSet(viewsets.ModelViewSet):
    queryset = Appointment.objects.all()
    serializer_class = AppointmentSerializer
    required_permissions = {"read": Permission.VIEW_SCHEDULE, "write": Permission.MANAGE_SCHEDULE}
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def perform_create(self, serializer: serializers.BaseSerializer[Appointment]) -> None:
        serializer.instance = services.appointment_create(
            practice=current_practice(self.request), **serializer.validated_data
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Appointment]) -> None:
        serializer.instance = services.appointment_update(
            practice=current_practice(self.request), appointment=self.get_object(), **serializer.validated_data
        )
