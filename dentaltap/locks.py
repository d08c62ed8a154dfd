"""Locks, one function each: named PostgreSQL advisory locks and row locks.

Every lock here is transaction-scoped: it is released when the surrounding `transaction.atomic()`
block commits or rolls back, so it cannot leak past an error. Outside a transaction (autocommit)
such a lock would be released at once, protecting nothing: that is refused with an error.
`advisory_lock_across` is for work that must not be one transaction (a call to Stripe): its lock
lives in a transaction of a connection of its own, for as long as the block runs.

    with transaction.atomic():
        advisory_lock(f"practice-slug:{slug}")          # waits for the other holder
        if not advisory_lock_try("spare-schemas:refill"):
            return                                      # someone else is at it
        account = row_lock(PracticeAccount.objects, practice=practice)
        rewards = rows_lock(Reward.objects.filter(qualifying_payment=payment))

    with advisory_lock_across(f"rewards:take-back:{reward_pk}"):  # no transaction needed
        ...                                                     # Stripe call, then atomic writes
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Manager, Model, QuerySet

ModelType = TypeVar("ModelType", bound=Model)


def _transaction_required(what: str) -> None:
    if not connection.in_atomic_block:
        raise RuntimeError(f"{what} needs an open transaction (transaction.atomic()): it is released at its end")


def advisory_lock(name: str) -> None:
    """Wait for, then hold until the transaction ends, the advisory lock named `name`."""
    _transaction_required("advisory_lock")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])


def advisory_lock_try(name: str) -> bool:
    """Take the advisory lock named `name` if it is free (held until the transaction ends);
    False, at once, if another transaction holds it."""
    _transaction_required("advisory_lock_try")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", [name])
        row = cursor.fetchone()
    return bool(row and row[0])


def row_lock(rows: Manager[ModelType] | QuerySet[ModelType], **lookup: object) -> ModelType | None:
    """The one row matching `lookup`, locked (SELECT ... FOR UPDATE) until the transaction ends;
    None if there is none. Only the row of `rows`' own table is locked, not joined ones."""
    _transaction_required("row_lock")
    return rows.select_for_update(of=("self",)).filter(**lookup).first()


def rows_lock(rows: Manager[ModelType] | QuerySet[ModelType]) -> list[ModelType]:
    """Every row of `rows`, locked until the transaction ends, taken in primary-key order so two
    transactions locking overlapping sets cannot deadlock."""
    _transaction_required("rows_lock")
    return list(rows.select_for_update(of=("self",)).order_by("pk"))


@contextmanager
def advisory_lock_across(name: str) -> Iterator[None]:
    """Wait for, then hold while the block runs, the advisory lock named `name`, around work that
    is not one transaction (e.g. a Stripe call between two writes). The lock is taken inside a
    transaction of a connection of its own, ended when the block ends (or with the process), never
    by a session lock on the shared connection: behind PgBouncer in transaction mode a session
    lock would stay on whichever server connection took it, and its unlock could reach another."""
    holder = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])
        yield
    finally:
        try:
            if holder.connection is not None:
                holder.rollback()
        finally:
            holder.close()
