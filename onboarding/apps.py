from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OnboardingConfig(AppConfig):
    """Milestones of a practice's path to first value, and activation (issue 12).

    Sits just above `tenants` (it imports tenants and the kit only), so that every app that does
    something worth a milestone (practice, billing, invitations, referrals) can record it."""

    name = "onboarding"
    verbose_name = _("Onboarding")

    def ready(self) -> None:
        # tenants is below this app: a practice created and a member joined reach it through
        # tenants' typed hand-offs.
        from onboarding import receivers  # noqa: PLC0415 - the app registry is ready now
        from tenants import handoffs  # noqa: PLC0415

        handoffs.practice_created.register(receivers.on_practice_created)
        handoffs.member_joined.register(receivers.on_member_joined)
