"""The fields every ticket has, checked once for every practice.

A practice's service passes what the caller sent; ``clean_ticket_fields`` refuses what
the actor may not set (the policy's writable fields plus the practice's own), checks the
shared fields (title, description, impact, urgency, category, requester, group,
assignee, channel) and returns the clean values and the errors so far, to which the
practice adds its own before raising ``TicketValidationError`` once with all of them.
"""

from __future__ import annotations

from typing import Any

from mainspring.identity.models import Membership
from mainspring.identity.policy import is_agent, writable_fields

from .models import Channel, Level
from .services import TicketValidationError

__all__ = [
    "assignment_values",
    "check_group_membership",
    "clean_ticket_fields",
    "refuse_edit_when_done",
]

SHARED = (
    "title",
    "description",
    "impact",
    "urgency",
    "category",
    "subcategory",
    "requester",
    "assignment_group",
    "assignee",
    "channel",
)


def clean_ticket_fields(
    data: dict[str, Any],
    *,
    by,
    creating: bool,
    instance=None,
    agent_extra: frozenset[str] = frozenset(),
    requester_extra: frozenset[str] = frozenset(),
) -> tuple[dict[str, Any], dict[str, str]]:
    """(clean shared values, errors). Fields the actor may not set raise at once."""
    allowed = writable_fields(
        by, creating=creating, agent_extra=agent_extra, requester_extra=requester_extra
    )
    refused = {name: "You may not set this field." for name in data if name not in allowed}
    if refused:
        raise TicketValidationError(refused)
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    if "title" in data or creating:
        title = (data.get("title") or "").strip()
        if not title:
            errors["title"] = "Give a short description of the problem."
        elif len(title) > 200:
            errors["title"] = "Keep the short description under 200 characters."
        clean["title"] = title
    if "description" in data:
        description = data.get("description") or ""
        if len(description) > 65_536:
            errors["description"] = "Keep the description under 64 KB; attach long logs."
        clean["description"] = description
    for name in ("impact", "urgency"):
        if name in data:
            if data[name] not in Level.values:
                errors[name] = f"Choose one of: {', '.join(Level.values)}."
            clean[name] = data[name]
    category = data.get("category", getattr(instance, "category", None))
    if "category" in data:
        if category is not None and (not category.active or category.parent_id is not None):
            errors["category"] = "Choose an active top-level category."
        clean["category"] = category
    if "subcategory" in data:
        sub = data["subcategory"]
        if sub is not None and (not sub.active or category is None or sub.parent_id != category.pk):
            errors["subcategory"] = "Choose a subcategory of the chosen category."
        clean["subcategory"] = sub
    elif "category" in data and instance is not None and instance.subcategory_id:
        if instance.subcategory.parent_id != getattr(category, "pk", None):
            clean["subcategory"] = None
    if "requester" in data:
        requester = data["requester"]
        if requester is None or not requester.is_active:
            errors["requester"] = "Choose an active user."
        clean["requester"] = requester
    if "assignment_group" in data:
        group = data["assignment_group"]
        if group is not None and not group.active:
            errors["assignment_group"] = "Choose an active group."
        clean["assignment_group"] = group
    if "assignee" in data:
        assignee = data["assignee"]
        if assignee is not None and not (assignee.is_active and is_agent(assignee)):
            errors["assignee"] = "Only active agents can be assigned."
        clean["assignee"] = assignee
    if "channel" in data:
        if data["channel"] not in Channel.values:
            errors["channel"] = f"Choose one of: {', '.join(Channel.values)}."
        clean["channel"] = data["channel"]
    return clean, errors


def check_group_membership(clean: dict[str, Any], errors: dict[str, str], instance=None) -> None:
    """An assignee set together with (or into) a group must be one of its members."""
    group = clean.get("assignment_group", instance.assignment_group if instance else None)
    assignee = clean.get("assignee", instance.assignee if instance else None)
    if (
        group is not None
        and assignee is not None
        and ("assignee" in clean or "assignment_group" in clean)
        and not Membership.objects.filter(group=group, user=assignee).exists()
    ):
        errors["assignee"] = f"{assignee.name} is not a member of {group.name}."


def assignment_values(assignment_group=None, assignee=None) -> dict[str, Any]:
    """What an "assign" action changes: the group and/or the assignee, at least one."""
    data: dict[str, Any] = {}
    if assignment_group is not None:
        data["assignment_group"] = assignment_group
    if assignee is not None:
        data["assignee"] = assignee
    if not data:
        raise TicketValidationError({"assignee": "Choose a group or an assignee."})
    return data


def refuse_edit_when_done(ticket, label: str, data: dict[str, Any]) -> None:
    """Fields of a resolved, closed or cancelled ticket stay as they were: reopen first."""
    if data and not ticket.is_open:
        raise TicketValidationError(
            {"state": f"A resolved, closed or cancelled {label} cannot be edited; reopen it."}
        )
