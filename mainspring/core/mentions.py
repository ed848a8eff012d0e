"""@mentions in journal entries: ``@username`` of an agent tells that agent (UX 17).

Only agents are mentioned (a requester cannot be asked to look at a work note), only
active ones, and at most ``MAX_MENTIONS`` per entry so a pasted list does not mail a
whole department.
"""

from __future__ import annotations

import re

from mainspring.identity.models import Role, User

__all__ = ["MAX_MENTIONS", "mentioned_agents", "mentioned_usernames"]

MAX_MENTIONS = 20
AGENT_ROLES = (Role.AGENT, Role.MANAGER, Role.ADMIN)
# Not inside a word or an e-mail address ("ops@example.com" mentions nobody).
_MENTION = re.compile(r"(?<![\w@.+-])@([A-Za-z0-9_.+-]{1,150})")


def mentioned_usernames(body: str) -> list[str]:
    """The distinct ``@names`` in ``body``, in order (trailing punctuation dropped)."""
    names: list[str] = []
    for match in _MENTION.finditer(body or ""):
        name = match.group(1).rstrip(".-+")
        if name and name not in names:
            names.append(name)
        if len(names) >= MAX_MENTIONS:
            break
    return names


def mentioned_agents(body: str) -> list[User]:
    """The active agents ``body`` mentions (one query; none when nobody is mentioned)."""
    names = mentioned_usernames(body)
    if not names:
        return []
    return list(
        User.objects.filter(username__in=names, role__in=AGENT_ROLES, is_active=True).order_by(
            "username"
        )
    )
