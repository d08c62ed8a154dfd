"""Fixtures of the outbound-webhook tests (the receiver is tests/webhooks_support.py's)."""

from __future__ import annotations

import pytest

from tenants.models import Practice, User


@pytest.fixture
def staff(public_tenant: Practice) -> User:
    """A superuser; the public tenant exists, so the base domain (the admin) is routed."""
    return User.objects.create_superuser("staff@dentaltap.example", "x-Strong-pass-99", full_name="Staff")
