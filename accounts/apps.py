from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """The doors into DentalTap: signup (every way), login, logout, password reset. The top of
    the layer order: it may use every app below it, none uses it."""

    name = "accounts"
