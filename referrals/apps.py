from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferralsConfig(AppConfig):
    name = "referrals"

    def ready(self) -> None:
        # The Team page (tenants, a lower app) shows what referrals adds to a team: the access
        # requests waiting, and the referral setting's name in the access log.
        from referrals.team import access_requests_section  # noqa: PLC0415 - app registry is ready now
        from tenants.selectors import setting_label_register, team_section_register  # noqa: PLC0415

        team_section_register(access_requests_section)
        setting_label_register("links_grant_guest_access", _("Referral links grant guest access at once"))
