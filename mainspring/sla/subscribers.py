"""SLA timers follow ticket events (core.events), whatever the ticket's kind."""

from __future__ import annotations

from mainspring.core.events import TicketEvent, subscribe

from . import services


@subscribe()
def track_sla_timers(event: TicketEvent) -> None:
    if event.name in {"created", "field_changed", "state_changed", "commented", "assigned"}:
        services.handle_event(event)
