from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LifecycleConfig(AppConfig):
    """Onboarding's upper half (issue 12): lifecycle emails, the staff cohort page and the
    milestone backfill. These read across apps (referral links and channels, invitations,
    payments, patients), so they sit at the top of the stack, above referrals and rewards, and
    listen to the milestone store below through onboarding.hooks."""

    name = "lifecycle"
    verbose_name = _("Onboarding emails and cohorts")

    def ready(self) -> None:
        from lifecycle.scheduling import lifecycle_messages_schedule  # noqa: PLC0415 - registry is ready now
        from onboarding.hooks import milestone_listener_register  # noqa: PLC0415

        milestone_listener_register(lifecycle_messages_schedule)
