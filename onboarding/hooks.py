"""Typed hand-offs between onboarding and the apps around it, registered at start-up (ready()).

- Higher apps learn that a milestone was reached (`milestone_listener_register`: lifecycle
  emails) or that a practice activated (`activation_listener_register`: the hook for reward
  programs; rewards registers `rewards.receivers.on_practice_activated`, which pays a referred
  practice's ACTIVATION rules).
- The practice app tells activation how many patients and completed appointments a practice
  has (`activation_facts_provider_register`): those live in the practice's schema, which this
  app (below `practice`) does not read itself.

Listeners run after commit, outside any transaction; one that fails is logged and the others
still run (a milestone is never undone by a listener's error). A milestone whose listeners did
not all succeed (or whose process died first) is told again by the beat job
`milestones_notify_missed`, so listeners must be idempotent."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MilestoneReached:
    practice_id: int
    key: str
    reached_at: datetime.datetime


@dataclass(frozen=True)
class ActivationFacts:
    patients: int
    completed_appointments: int


MilestoneListener = Callable[[MilestoneReached], None]
ActivationFactsProvider = Callable[[int], ActivationFacts | None]

_milestone_listeners: list[MilestoneListener] = []
_activation_listeners: list[MilestoneListener] = []
_facts_providers: list[ActivationFactsProvider] = []


def milestone_listener_register(listener: MilestoneListener) -> None:
    """Called once per milestone newly reached (never for a repeat, never for a backfill)."""
    if listener not in _milestone_listeners:
        _milestone_listeners.append(listener)


def activation_listener_register(listener: MilestoneListener) -> None:
    """Called once when a practice activates: the triggering event offered to reward programs."""
    if listener not in _activation_listeners:
        _activation_listeners.append(listener)


def activation_listener_unregister(listener: MilestoneListener) -> None:
    if listener in _activation_listeners:
        _activation_listeners.remove(listener)


def activation_facts_provider_register(provider: ActivationFactsProvider) -> None:
    """One provider (the practice app's); registering again replaces it."""
    _facts_providers[:] = [provider]


def activation_facts(practice_id: int) -> ActivationFacts | None:
    if not _facts_providers:
        logger.warning("no activation facts provider registered: practice %s cannot activate", practice_id)
        return None
    return _facts_providers[0](practice_id)


def _notify(listeners: list[MilestoneListener], event: MilestoneReached) -> bool:
    succeeded = True
    for listener in list(listeners):
        try:
            listener(event)
        except Exception:  # a listener's failure must not undo or block the others
            logger.exception("milestone listener %r failed for %s", listener, event)
            succeeded = False
    return succeeded


def milestone_reached_notify(event: MilestoneReached) -> bool:
    """Tell every listener; True if none failed (then the milestone is marked told)."""
    succeeded = _notify(_milestone_listeners, event)
    if event.key == "activated":
        succeeded = _notify(_activation_listeners, event) and succeeded
    return succeeded
