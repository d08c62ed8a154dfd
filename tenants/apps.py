from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = _("Practices and users")

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _  # noqa: PLC0415

        from tenants import signals  # noqa: F401,PLC0415 - connects the host-cache invalidation
        from tenants.team.selectors import setting_label_register  # noqa: PLC0415

        setting_label_register("time_zone", _("Time zone"))  # the practice settings page
