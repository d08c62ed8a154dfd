"""dentaltap.locks against real PostgreSQL: a second connection (a thread of its own) is really
kept out while a lock is held, and gets in once the holding transaction ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import DatabaseError, connection, connections, transaction

from dentaltap.locks import advisory_lock, advisory_lock_across, advisory_lock_try, row_lock, rows_lock
from tenants.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(call: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Run `call` in a thread with its own connection; its result (or exception) lands in the list."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as error:  # noqa: BLE001 - handed to the test
            outcome.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _waiting_advisory_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return int(cursor.fetchone()[0])


def _until(condition: Callable[[], bool]) -> None:
    """Poll a condition the other thread brings about (bounded; no timing is asserted)."""
    for _ in range(600):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("the other connection never got there")


@pytest.mark.parametrize("lock", [advisory_lock, advisory_lock_try])
def test_an_advisory_lock_outside_a_transaction_is_refused(lock: Callable[[str], object]) -> None:
    with pytest.raises(RuntimeError, match="needs an open transaction"):
        lock("anything")


def test_row_locks_outside_a_transaction_are_refused() -> None:
    with pytest.raises(RuntimeError, match="needs an open transaction"):
        row_lock(User.objects, pk=1)
    with pytest.raises(RuntimeError, match="needs an open transaction"):
        rows_lock(User.objects.all())


def test_advisory_lock_waits_for_the_holder_and_gets_it_when_its_transaction_ends() -> None:
    events: list[str] = []

    def second() -> str:
        with transaction.atomic():
            advisory_lock("test:shared")
            events.append("second holds it")
        return "done"

    with transaction.atomic():
        advisory_lock("test:shared")
        thread, outcome = _in_thread(second)
        _until(lambda: _waiting_advisory_locks() == 1)  # the second connection is queued on it
        assert events == []  # ... and does not hold it while we do
        events.append("first releases")
    thread.join(timeout=30)
    assert outcome == ["done"]
    assert events == ["first releases", "second holds it"]


def test_advisory_lock_names_are_independent() -> None:
    with transaction.atomic():
        advisory_lock("test:one")
        thread, outcome = _in_thread(lambda: _try_in_transaction("test:two"))
        thread.join(timeout=30)
    assert outcome == [True]


def _try_in_transaction(name: str) -> bool:
    with transaction.atomic():
        return advisory_lock_try(name)


def test_advisory_lock_try_says_no_at_once_while_another_transaction_holds_it() -> None:
    with transaction.atomic():
        assert advisory_lock_try("test:refill") is True
        thread, outcome = _in_thread(lambda: _try_in_transaction("test:refill"))
        thread.join(timeout=30)
        assert outcome == [False]
    thread, outcome = _in_thread(lambda: _try_in_transaction("test:refill"))  # released at commit
    thread.join(timeout=30)
    assert outcome == [True]


def _lock_row_nowait(pk: int) -> object:
    with transaction.atomic():
        return User.objects.select_for_update(nowait=True).filter(pk=pk).first()


def test_row_lock_returns_the_row_and_keeps_other_writers_out_until_commit() -> None:
    user = UserFactory()
    with transaction.atomic():
        locked = row_lock(User.objects, pk=user.pk)
        assert locked == user
        thread, outcome = _in_thread(lambda: _lock_row_nowait(user.pk))
        thread.join(timeout=30)
        assert len(outcome) == 1 and isinstance(outcome[0], DatabaseError)  # "could not obtain lock"
    thread, outcome = _in_thread(lambda: _lock_row_nowait(user.pk))
    thread.join(timeout=30)
    assert outcome == [user]


def test_row_lock_of_a_missing_row_is_none() -> None:
    with transaction.atomic():
        assert row_lock(User.objects, pk=-1) is None


def test_rows_lock_locks_every_row_in_key_order() -> None:
    users = sorted([UserFactory(), UserFactory(), UserFactory()], key=lambda user: user.pk)
    others = UserFactory()
    with transaction.atomic():
        locked = rows_lock(User.objects.filter(pk__in=[user.pk for user in reversed(users)]))
        assert [user.pk for user in locked] == [user.pk for user in users]
        for user in users:
            thread, outcome = _in_thread(lambda pk=user.pk: _lock_row_nowait(pk))
            thread.join(timeout=30)
            assert isinstance(outcome[0], DatabaseError)
        thread, outcome = _in_thread(lambda: _lock_row_nowait(others.pk))  # not in the set: free
        thread.join(timeout=30)
        assert outcome == [others]


def _try_elsewhere(name: str) -> bool:
    """Whether another connection could take the lock right now (released again at once)."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [name])
            taken = bool(cursor.fetchone()[0])
            if taken:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [name])
            return taken
    finally:
        other.close()


def test_a_lock_across_work_outside_a_transaction_holds_until_the_block_ends() -> None:
    assert not connection.in_atomic_block
    with advisory_lock_across("stripe-call"):
        assert not connection.in_atomic_block  # this connection stays in autocommit
        assert _try_elsewhere("stripe-call") is False
    assert _try_elsewhere("stripe-call") is True
    with pytest.raises(RuntimeError), advisory_lock_across("stripe-call"):
        raise RuntimeError("Stripe failed")
    assert _try_elsewhere("stripe-call") is True  # released by the error too
