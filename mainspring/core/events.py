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

__all__ = ["TicketEvent", "before_create", "prepare_new_ticket", "publish", "subscribe"]


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


_subscribers: list[tuple[str | None, Callable[..., None], bool]] = []


def subscribe(name: str | None = None, *, batch: bool = False):
    """Decorator: call the function for events called ``name`` (or all, if None).

    With ``batch=True`` the function gets the list of matching events one ``publish``
    carried (a create that also assigns publishes two), so it can write its rows for
    all of them at once.
    """

    def register(fn: Callable[..., None]) -> Callable[..., None]:
        _subscribers.append((name, fn, batch))
        return fn

    return register


def publish(*events: TicketEvent) -> None:
    """Tell subscribers what one change did, in order, inside its transaction."""
    subscribers = list(_subscribers)
    for event in events:
        for name, fn, batch in subscribers:
            if not batch and (name is None or name == event.name):
                fn(event)
    for name, fn, batch in subscribers:
        if batch:
            matching = [e for e in events if name is None or name == e.name]
            if matching:
                fn(matching)


_preparers: list[Callable[[Any], None]] = []


def before_create(fn: Callable[[Any], None]) -> Callable[[Any], None]:
    """Decorator: call ``fn(ticket)`` on every new ticket just before it is first saved.

    For derived columns a subscriber keeps on the ticket row (the SLA deadlines): set
    at insert, they cost no second write of a row that has many indexes. ``fn`` may
    only set such fields and remember what it computed on the instance; its writes
    belong in its "created" subscriber, which always follows.
    """
    _preparers.append(fn)
    return fn


def prepare_new_ticket(ticket: Any) -> None:
    """Services call this right before a new ticket's first ``save()``."""
    for fn in list(_preparers):
        fn(ticket)
