"""Typed hand-offs: how a lower app tells a higher one something without importing it.

The lower app owns the event (a frozen dataclass) and one `Handoff` for it; the higher app
registers a receiver in its `AppConfig.ready()`. `send` calls the receivers in registration
order, synchronously, in the caller's transaction, and returns their notes (for logs and the
Stripe inbox). A receiver that refuses raises (an ApplicationError), which the caller sees as
its own. No receiver registered: `send` does nothing and returns []. Receivers must not call
Stripe, send mail or queue tasks directly: they use `transaction.on_commit` like any service.

Not Django signals: a signal is untyped, its receivers are found by import side effects and
its exceptions are swallowed or not depending on how it is sent; here the contract is one
dataclass, one list, and what a receiver raises stops the operation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

Event = TypeVar("Event")
Receiver = Callable[[Event], str | None]


class Handoff(Generic[Event]):
    def __init__(self, name: str) -> None:
        self.name = name
        self._receivers: list[Receiver[Event]] = []

    def __repr__(self) -> str:
        return f"<Handoff {self.name}: {len(self._receivers)} receiver(s)>"

    def register(self, receiver: Receiver[Event]) -> None:
        """Add a receiver (once: registering the same function again changes nothing)."""
        if receiver not in self._receivers:
            self._receivers.append(receiver)

    @property
    def receivers(self) -> tuple[Receiver[Event], ...]:
        return tuple(self._receivers)

    def send(self, event: Event) -> list[str]:
        notes = []
        for receiver in list(self._receivers):
            note = receiver(event)
            if note:
                notes.append(note)
        return notes

    @contextmanager
    def only(self, *receivers: Receiver[Event]) -> Iterator[None]:
        """For tests: exactly these receivers (none at all with no argument) inside the block."""
        saved = self._receivers
        self._receivers = list(receivers)
        try:
            yield
        finally:
            self._receivers = saved
