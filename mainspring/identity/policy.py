"""The one access policy: who may see which tickets and do what to them.

Every path that returns or changes a ticket (UI, API, attachments, notifications,
search) asks here. Two questions, as in Wagtail's permission policies:

* ``visible_tickets(user, qs)`` — the tickets this user may see (a queryset filter);
* ``require(user, action, ticket)`` — may this user do ``action`` to this ticket?
  Raises ``NotVisible`` (shown as 404, never 403, so ids cannot be probed) or
  ``Forbidden`` (403) for a ticket the user may see but not change.

The full matrix is in docs/permissions.md and tests/identity/test_permission_matrix.py.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q, QuerySet

from .models import Membership, Role, User

if TYPE_CHECKING:
    from mainspring.core.models import Ticket

__all__ = [
    "Action",
    "Forbidden",
    "NotVisible",
    "can",
    "is_agent",
    "manages_group",
    "require",
    "visible_tickets",
    "writable_fields",
]


class NotVisible(Exception):
    """The user may not know this ticket exists (404)."""


class Forbidden(Exception):
    """The user sees the ticket but may not do this (403)."""


class Action(StrEnum):
    VIEW = "view"
    COMMENT = "comment"  # public comment
    WORK_NOTE = "work_note"  # internal
    ATTACH = "attach"
    EDIT = "edit"  # change fields
    WORK = "work"  # agent transitions: start, hold, resume, resolve, cancel
    ASSIGN = "assign"  # set group / assignee
    REASSIGN = "reassign"  # move away from a group's current assignee
    REOPEN = "reopen"  # requester or agent, on a resolved ticket
    CONFIRM = "confirm"  # close a resolved ticket
    WATCH = "watch"
    LINK = "link"
    VIEW_AUDIT = "view_audit"
    CONFIGURE = "configure"  # categories, groups, users


def is_agent(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff_role)


def is_admin(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.role == Role.ADMIN)


def manages_group(user, group_id: int | None) -> bool:
    if group_id is None or not is_agent(user):
        return False
    if user.role == Role.ADMIN:
        return True
    if user.role != Role.MANAGER:
        return False
    return Membership.objects.filter(user=user, group_id=group_id).exists()


def visible_tickets(user, qs: QuerySet | None = None) -> QuerySet:
    """The tickets ``user`` may see. Requesters: those they opened or watch."""
    from mainspring.core.models import Ticket, Watcher

    qs = Ticket.objects.all() if qs is None else qs
    if not user or not user.is_authenticated or not user.is_active:
        return qs.none()
    if is_agent(user):
        return qs
    watching = Watcher.objects.filter(ticket_id=OuterRef("pk"), user_id=user.pk)
    return qs.filter(Q(requester_id=user.pk) | Exists(watching))


def _can_see(user, ticket: Ticket) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    if is_agent(user):
        return True
    if ticket.requester_id == user.pk:
        return True
    return ticket.watchers.filter(user_id=user.pk).exists()


def can(user, action: Action | str, ticket: Ticket | None = None) -> bool:
    """May ``user`` do ``action`` (to ``ticket``)? False also when the ticket is invisible."""
    action = Action(action)
    if action is Action.CONFIGURE:
        return is_admin(user)
    if ticket is None or not _can_see(user, ticket):
        return False
    if action is Action.VIEW:
        return True
    agent = is_agent(user)
    is_requester = ticket.requester_id == user.pk
    if action in (Action.COMMENT, Action.ATTACH, Action.WATCH):
        return True  # anyone who sees it may talk on it
    if action in (Action.REOPEN, Action.CONFIRM):
        return agent or is_requester
    if action is Action.REASSIGN:
        # Moving a ticket that someone is working on is the group manager's call.
        return user.role == Role.ADMIN or manages_group(user, ticket.assignment_group_id)
    # Everything else is agent work.
    return agent


def require(user, action: Action | str, ticket: Ticket) -> None:
    """Raise unless ``user`` may do ``action`` to ``ticket``."""
    if not _can_see(user, ticket):
        raise NotVisible
    if not can(user, action, ticket):
        raise Forbidden(f"You may not {Action(action).value.replace('_', ' ')} this ticket.")


def require_configure(user, what: str) -> None:
    """Raise unless ``user`` may change configuration (``what``: "groups", "SLAs"...)."""
    if not can(user, Action.CONFIGURE):
        raise Forbidden(f"Only administrators may change {what}.")


# One writable-field list per role, for the fields every ticket has; a practice adds its
# own (an incident's ``major_incident``, a problem's ``root_cause``). Anything else in a
# payload is refused (400), so a requester cannot set requester, assignee, priority or
# state by crafting a request.
REQUESTER_CREATE_FIELDS = frozenset({"title", "description", "category", "subcategory"})
AGENT_CREATE_FIELDS = frozenset(
    {
        "title",
        "description",
        "category",
        "subcategory",
        "impact",
        "urgency",
        "requester",
        "assignment_group",
        "assignee",
        "channel",
    }
)
AGENT_UPDATE_FIELDS = AGENT_CREATE_FIELDS - {"channel"}


def writable_fields(
    user,
    *,
    creating: bool,
    agent_extra: frozenset[str] = frozenset(),
    requester_extra: frozenset[str] = frozenset(),
) -> frozenset[str]:
    """The ticket fields ``user`` may set when creating or updating; ``*_extra`` are the
    practice's own fields for that role."""
    if not is_agent(user):
        return (REQUESTER_CREATE_FIELDS | requester_extra) if creating else frozenset()
    return (AGENT_CREATE_FIELDS if creating else AGENT_UPDATE_FIELDS) | agent_extra


def user_is(user: User, *roles: Role) -> bool:
    return user.is_authenticated and user.role in roles
