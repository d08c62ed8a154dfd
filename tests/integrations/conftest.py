"""Fixtures of the outbound-webhook tests (the receiver is tests/webhooks_support.py's)."""

from __future__ import annotations

import pytest

from tenants.models import User


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_superuser("staff@dentaltap.example", "x-Strong-pass-99", full_name="Staff")
