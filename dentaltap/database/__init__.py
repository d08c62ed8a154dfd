"""DentalTap's database backend (ENGINE `dentaltap.database`): django-tenants' PostgreSQL backend
that also works behind PgBouncer in transaction mode (`base.py`, docs/operations.md).

This module is read by the settings, so it imports nothing from Django's database layer."""

from __future__ import annotations

from typing import Any

ENGINE = "dentaltap.database"
SESSION_MODE = "session"
TRANSACTION_MODE = "transaction"
POOL_MODES = ("", SESSION_MODE, TRANSACTION_MODE)


def pooled_database_settings(pool_mode: str) -> dict[str, Any]:
    """What a connection's settings need behind PgBouncer in `pool_mode` ("" when direct):
    transaction mode sends the search path with every statement and cannot keep a server-side
    cursor open across statements."""
    if pool_mode not in POOL_MODES:
        raise ValueError(f"DENTALTAP_PGBOUNCER_POOL_MODE must be one of {POOL_MODES[1:]} or empty, not {pool_mode!r}")
    if pool_mode != TRANSACTION_MODE:
        return {"PGBOUNCER_POOL_MODE": pool_mode}
    return {"PGBOUNCER_POOL_MODE": pool_mode, "DISABLE_SERVER_SIDE_CURSORS": True}
