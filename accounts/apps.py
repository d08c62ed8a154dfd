from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """The doors into DentalTap: signup (every way), login, logout, password reset. The top of
    the layer order: it may use every app below it, none uses it."""

    name = "accounts"
    verbose_name = _("Accounts")
