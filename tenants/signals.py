"""Keep the host -> practice caches honest when practices or domains change (this process's at
once, every other process's through the generation token after commit); log login pauses
(django-axes)."""

from typing import Any

from axes.signals import user_locked_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from dentaltap.login_protection import log_lockout
from tenants.models import Domain, Practice
from tenants.routing import host_cache_generation_bump, tenant_host_cache

user_locked_out.connect(log_lockout, dispatch_uid="dentaltap-login-lockout-log")


@receiver([post_save, post_delete], sender=Domain)
@receiver([post_save, post_delete], sender=Practice)
def invalidate_host_cache(created: bool = False, **_: Any) -> None:
    tenant_host_cache.clear()
    if not created:  # a new practice or domain is in no cache: unknown hosts are never cached
        transaction.on_commit(host_cache_generation_bump, robust=True)
