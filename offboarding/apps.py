from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OffboardingConfig(AppConfig):
    """Export, delete and restore one practice (issue 14): staff-only operations that read and
    write the rows of every app (the practice's schema, memberships, billing, referrals, rewards,
    milestones), so the app sits at the top of the layers, above accounts."""

    name = "offboarding"
    verbose_name = _("Practice export, deletion and restore")
