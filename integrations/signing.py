"""Signing secrets and the `DentalTap-Signature` header (the algorithm receivers verify, written
down in docs/staff.md):

    DentalTap-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">[,v1=<...>]

The HMAC key is the whole secret string (`whsec_...`, UTF-8). While a rotated-out secret is in
its grace period there is one `v1=` per secret, the current one first: a receiver that knows
either accepts the request, and checks that `t` is recent (DentalTap suggests five minutes)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_masked(secret: str) -> str:
    """What staff see after the secret was shown once: the prefix and the last four characters."""
    return f"{SECRET_PREFIX}…{secret[-4:]}" if secret else "—"


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(*, secrets_in_use: list[str], timestamp: int, body: bytes) -> str:
    parts = [f"t={timestamp}"] + [
        f"v1={signature(secret=secret, timestamp=timestamp, body=body)}" for secret in secrets_in_use
    ]
    return ",".join(parts)
