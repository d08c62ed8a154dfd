from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    """Milestones of a practice's path to first value, and activation (issue 12).

    Sits just above `tenants` (it imports tenants and the kit only), so that every app that does
    something worth a milestone (practice, billing, invitations, referrals) can record it."""

    name = "onboarding"
    verbose_name = "Onboarding"

    def ready(self) -> None:
        # tenants is below this app and cannot call it: the creation of a practice and of a
        # membership reach it through Django's post_save (receivers only schedule a record).
        from onboarding import receivers  # noqa: F401,PLC0415 - connects the tenants receivers
