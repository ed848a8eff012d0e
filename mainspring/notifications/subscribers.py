"""Mail notifications follow ticket events (core.events), whatever the ticket's kind.

The subscriber runs inside the service's transaction, so the deliveries and their
tasks commit or roll back with the change that caused them.
"""

from __future__ import annotations

from mainspring.core.events import TicketEvent, subscribe

from . import services


@subscribe(batch=True)
def queue_notifications(events: list[TicketEvent]) -> None:
    services.queue_for_events(events)
