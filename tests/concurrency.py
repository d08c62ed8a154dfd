"""Running calls at the same moment for real: threads, each with its own database connection and
its own transactions (the tests that use this commit: transactional_db)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections

from dentaltap.errors import ApplicationError


def run_together(*calls: Callable[[], Any], timeout: float = 60) -> list[Any]:
    """Start every call at once (a barrier) in its own thread. Returns, in order, what each call
    returned or the ApplicationError it raised (the clear refusal a loser of a race must get).
    Any other exception is re-raised here: a race that ends in a crash fails the test loudly."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    crashes: list[BaseException] = []

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = call()
        except ApplicationError as error:
            results[index] = error
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread below
            crashes.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a concurrent call did not finish (a deadlock?)"
    if crashes:
        raise crashes[0]
    return results
