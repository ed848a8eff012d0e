"""Mail notifications follow ticket events (core.events), whatever the ticket's kind.

The subscriber runs inside the service's transaction and gets all the events one change
published at once, so the one task row that will write their mail commits or rolls back
with the change that caused it.
"""

from __future__ import annotations

from mainspring.core.events import TicketEvent, subscribe

from . import services


@subscribe(batch=True)
def queue_notifications(events: list[TicketEvent]) -> None:
    services.queue_for_events(events)
