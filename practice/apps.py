from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PracticeConfig(AppConfig):
    name = "practice"
    verbose_name = _("Practice workspace")

    def ready(self) -> None:
        # Activation (onboarding, a lower app) counts patients and completed visits through this.
        from onboarding.hooks import activation_facts_provider_register  # noqa: PLC0415 - registry is ready now
        from practice.selectors import activation_facts  # noqa: PLC0415

        activation_facts_provider_register(activation_facts)
