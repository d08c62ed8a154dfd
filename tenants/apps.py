from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Practices and users"

    def ready(self) -> None:
        from tenants import signals  # noqa: F401,PLC0415 - connects the host-cache invalidation
