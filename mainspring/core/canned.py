"""Canned responses: the placeholders an agent's reply may use, filled for one ticket.

``{caller.name}``, ``{caller.first_name}``, ``{agent.name}``, ``{agent.first_name}``,
``{ticket.number}``, ``{ticket.title}`` and ``{ticket.url}``. Anything else in braces is
left exactly as written, so the agent sees it in the composer and fixes it before
posting (UX 16).
"""

from __future__ import annotations

import re

from .models import CannedResponse, Ticket

__all__ = ["PLACEHOLDERS", "expand", "responses_for"]

PLACEHOLDERS = (
    "caller.name",
    "caller.first_name",
    "agent.name",
    "agent.first_name",
    "ticket.number",
    "ticket.title",
    "ticket.url",
)
_PATTERN = re.compile(r"\{([a-z_]+\.[a-z_]+)\}")
LIST_LIMIT = 200


def _first_name(user) -> str:
    if user is None:
        return ""
    return (user.first_name or user.name.split(" ")[0]).strip()


def expand(body: str, *, ticket: Ticket, agent) -> str:
    """``body`` with the known placeholders filled in for ``ticket`` and ``agent``."""
    caller = ticket.requester
    values = {
        "caller.name": caller.name if caller else "",
        "caller.first_name": _first_name(caller),
        "agent.name": agent.name,
        "agent.first_name": _first_name(agent),
        "ticket.number": ticket.number,
        "ticket.title": ticket.title,
        "ticket.url": ticket.web_url,
    }
    return _PATTERN.sub(lambda m: values.get(m.group(1), m.group(0)), body)


def responses_for(ticket: Ticket, agent) -> list[dict]:
    """The active canned responses, filled in for this ticket (one bounded query)."""
    rows = CannedResponse.objects.filter(active=True).only("id", "title", "body")
    return [
        {"id": r.pk, "title": r.title, "text": expand(r.body, ticket=ticket, agent=agent)}
        for r in rows[:LIST_LIMIT]
    ]
