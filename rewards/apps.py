from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RewardsConfig(AppConfig):
    name = "rewards"
    verbose_name = _("Referral rewards")

    def ready(self) -> None:
        # Billing (a lower app) hands payments, reversals and newly seen cards up through its
        # typed hand-off; referrals hands up staff review decisions. Registered here, once.
        from rewards import receivers  # noqa: PLC0415 - the app registry is ready now

        receivers.register()
