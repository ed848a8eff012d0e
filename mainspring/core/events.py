"""Ticket events: what happened, published by services inside their transaction.

Cross-cutting work (notifications now; SLA timers, routing, webhooks, search later)
subscribes here and works on ``Ticket``, whatever its kind, without importing a
practice app. Subscribers run synchronously inside the same transaction, so what they
enqueue (a task row) commits or rolls back with the change itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TicketEvent", "publish", "subscribe"]


@dataclass(frozen=True)
class TicketEvent:
    """``name`` is one of: created, field_changed, state_changed, commented, assigned."""

    name: str
    ticket_id: int
    actor_id: int | None
    channel: str
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    # The instance the service just saved, when it has one: subscribers read it instead
    # of loading the row again (several subscribers per event, in the same transaction).
    ticket: Any = field(default=None, compare=False, repr=False)


_subscribers: list[tuple[str | None, Callable[[TicketEvent], None]]] = []


def subscribe(name: str | None = None):
    """Decorator: call the function for events called ``name`` (or all, if None)."""

    def register(fn: Callable[[TicketEvent], None]) -> Callable[[TicketEvent], None]:
        _subscribers.append((name, fn))
        return fn

    return register


def publish(event: TicketEvent) -> None:
    for name, fn in list(_subscribers):
        if name is None or name == event.name:
            fn(event)
