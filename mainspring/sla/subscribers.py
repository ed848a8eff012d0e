"""SLA timers follow ticket events (core.events), whatever the ticket's kind."""

from __future__ import annotations

from mainspring.core.events import TicketEvent, subscribe

from . import services


@subscribe()
def track_sla_timers(event: TicketEvent) -> None:
    # "assigned" always follows the created / field_changed / state_changed event that
    # carried the same changes, which has already reselected the SLAs. A comment matters
    # only when it is the first public response (``responded_at`` in its changes).
    if event.name in {"created", "field_changed", "state_changed"} or (
        event.name == "commented" and event.changes
    ):
        services.handle_event(event)
