"""Ticket events that knowledge follows: search index (SQLite) and deflections."""

from __future__ import annotations

from mainspring.core.events import TicketEvent, subscribe
from mainspring.core.models import Channel

from . import search, services


@subscribe()
def on_ticket_event(event: TicketEvent) -> None:
    if event.name == "created":
        search.index_ticket(event.ticket_id)
        if event.actor_id and event.channel == Channel.PORTAL:
            # Reported anyway: the suggestions read just before did not deflect it.
            # Suggestions are shown on the portal's report form, so only a portal
            # report can cancel them (an API or agent create skips the write).
            services.cancel_deflections(event.actor_id)
    elif {"title", "description"} & set(event.changes):
        search.index_ticket(event.ticket_id)
