"""Export, delete and restore one practice: one module a subject, everything importable here."""

from offboarding.services.common import Actor, operation_log, reason_clean
from offboarding.services.deletion import (
    PracticeNotDeletable,
    is_tombstone,
    practice_customer_forget,
    practice_customers_owed,
    practice_delete,
    practice_delete_refusals,
    stripe_balance_owed,
)
from offboarding.services.export import ExportResult, practice_export, shared_querysets
from offboarding.services.restore import RestoreResult, archive_migrations_check, practice_restore

__all__ = [
    "Actor",
    "ExportResult",
    "PracticeNotDeletable",
    "RestoreResult",
    "archive_migrations_check",
    "is_tombstone",
    "operation_log",
    "practice_customer_forget",
    "practice_customers_owed",
    "practice_delete",
    "practice_delete_refusals",
    "practice_export",
    "practice_restore",
    "reason_clean",
    "shared_querysets",
    "stripe_balance_owed",
]
