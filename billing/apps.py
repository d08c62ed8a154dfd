from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        # Tenants and practice (lower apps) ask billing through their hand-offs: create the
        # account of a new practice, check plan limits, read a practice's plan.
        from billing import limits  # noqa: PLC0415 - the app registry is ready now
        from billing.services import accounts  # noqa: PLC0415
        from practice import handoffs as practice_handoffs  # noqa: PLC0415
        from tenants import handoffs as tenant_handoffs  # noqa: PLC0415

        tenant_handoffs.practice_created.register(accounts.on_practice_created)
        tenant_handoffs.practitioner_seat.register(limits.on_practitioner_seat)
        tenant_handoffs.plan_reader_register(accounts.plan_facts)
        practice_handoffs.patient_adding.register(limits.on_patient_adding)
