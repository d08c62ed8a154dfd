"""Keep the in-process host -> practice cache honest when practices or domains change; log
login pauses (django-axes)."""

from typing import Any

from axes.signals import user_locked_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from dentaltap.login_protection import log_lockout
from tenants.models import Domain, Practice
from tenants.routing import tenant_host_cache

user_locked_out.connect(log_lockout, dispatch_uid="dentaltap-login-lockout-log")


@receiver([post_save, post_delete], sender=Domain)
@receiver([post_save, post_delete], sender=Practice)
def invalidate_host_cache(**_: Any) -> None:
    tenant_host_cache.clear()
