from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = _("Referrals")

    def ready(self) -> None:
        # The Team page (tenants, a lower app) shows what referrals adds to a team: the access
        # requests waiting, and the referral setting's name in the access log.
        from invitations.handoffs import referral_code_provider_register  # noqa: PLC0415 - app registry is ready now
        from referrals.services import referral_code_get_or_create  # noqa: PLC0415
        from referrals.team import access_requests_section  # noqa: PLC0415
        from tenants.team.selectors import setting_label_register, team_section_register  # noqa: PLC0415

        team_section_register(access_requests_section)
        # The invitation email's link carries the inviter's referral code (invitations/handoffs.py).
        referral_code_provider_register(lambda user: referral_code_get_or_create(user=user).code)
        setting_label_register("links_grant_guest_access", _("Referral links grant guest access at once"))
