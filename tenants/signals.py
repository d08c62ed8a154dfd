"""Keep the in-process host -> practice cache honest when practices or domains change."""

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tenants.models import Domain, Practice
from tenants.routing import tenant_host_cache


@receiver([post_save, post_delete], sender=Domain)
@receiver([post_save, post_delete], sender=Practice)
def invalidate_host_cache(**_: Any) -> None:
    tenant_host_cache.clear()
