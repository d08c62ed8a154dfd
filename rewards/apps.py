from django.apps import AppConfig


class RewardsConfig(AppConfig):
    name = "rewards"
    verbose_name = "Referral rewards"

    def ready(self) -> None:
        # Billing (a lower app) hands payments, reversals and newly seen cards up through its
        # typed hand-off; referrals hands up staff review decisions. Registered here, once.
        from rewards import receivers  # noqa: PLC0415 - the app registry is ready now

        receivers.register()
