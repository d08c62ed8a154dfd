from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Integrations (outbound webhooks)")

    def ready(self) -> None:
        # Referrals and rewards (lower apps) hand their events up through typed hand-offs; each
        # becomes an outbox row in the sender's transaction. Registered here, once.
        from integrations import receivers  # noqa: PLC0415 - the app registry is ready now

        receivers.register()
