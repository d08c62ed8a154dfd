"""Create the public tenant (schema "public") and the base domain's record if missing."""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from tenants.services import public_tenant_ensure


class Command(BaseCommand):
    help = "Ensure the public tenant and its base-domain record exist (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            tenant = public_tenant_ensure()
        self.stdout.write(
            f"Public tenant ready: {tenant.name} ({', '.join(tenant.domains.values_list('domain', flat=True))})"
        )
