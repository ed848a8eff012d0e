"""Incident operations: the one way in for the UI, the API and (later) e-mail intake.

Each function runs in one transaction, checks ``identity.policy``, validates, writes
the audit trail through ``core.services`` and publishes ticket events (which enqueue
notifications in the same transaction). Each takes the actor as ``by=`` and returns the
changed incident.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mainspring.core import services as core
from mainspring.core.actors import system_user
from mainspring.core.models import Channel, JournalKind, Level
from mainspring.core.reference_cache import ReferenceCache
from mainspring.core.services import StaleVersion, TicketValidationError
from mainspring.core.states import InvalidTransition
from mainspring.core.ticket_fields import (
    assignment_values,
    check_group_membership,
    clean_ticket_fields,
    refuse_edit_when_done,
)
from mainspring.identity.models import AssignmentGroup, User
from mainspring.identity.policy import (
    Action,
    Forbidden,
    can,
    is_agent,
    require,
    require_configure,
)

from .models import KIND, PREFIX, Category, HoldReason, Incident, PriorityRule, ResolutionCode
from .models import IncidentState as S
from .states import INCIDENT_MACHINE

__all__ = [
    "InvalidTransition",
    "StaleVersion",
    "TicketValidationError",
    "assign",
    "auto_close_resolved",
    "calculate_priority",
    "cancel",
    "category_errors",
    "close",
    "create_incident",
    "hold",
    "reopen",
    "resolve",
    "resume",
    "save_category",
    "save_resolution_code",
    "start",
    "transition",
    "update_incident",
]

DEFAULT_MATRIX = {
    (Level.HIGH, Level.HIGH): 1,
    (Level.HIGH, Level.MEDIUM): 2,
    (Level.MEDIUM, Level.HIGH): 2,
    (Level.HIGH, Level.LOW): 3,
    (Level.MEDIUM, Level.MEDIUM): 3,
    (Level.LOW, Level.HIGH): 3,
    (Level.MEDIUM, Level.LOW): 4,
    (Level.LOW, Level.MEDIUM): 4,
    (Level.LOW, Level.LOW): 5,
}


def _load_priority_matrix() -> dict[tuple[str, str], int]:
    rows = PriorityRule.objects.values_list("impact", "urgency", "priority")
    return {(impact, urgency): priority for impact, urgency, priority in rows}


# Read on every create and every impact/urgency change; edited almost never.
PRIORITY_MATRIX = ReferenceCache("priority-matrix", _load_priority_matrix, (PriorityRule,))


def calculate_priority(impact: str, urgency: str) -> int:
    """Priority 1–5 from the admin-managed impact × urgency matrix."""
    priority = PRIORITY_MATRIX.get().get((impact, urgency))
    if priority is not None:
        return priority
    return DEFAULT_MATRIX.get((impact, urgency), 5)


# The incident's own fields, beyond those every ticket has (core.ticket_fields).
AGENT_FIELDS = frozenset({"major_incident", "parent"})


def _clean(
    data: dict[str, Any], *, by: User, creating: bool, instance: Incident | None = None
) -> dict[str, Any]:
    """Check a payload against the actor's writable fields and the data's own rules."""
    clean, errors = clean_ticket_fields(
        data, by=by, creating=creating, instance=instance, agent_extra=AGENT_FIELDS
    )
    if "major_incident" in data:
        clean["major_incident"] = bool(data["major_incident"])
    if "parent" in data:
        parent = data["parent"]
        if parent is not None:
            if instance is not None and parent.pk == instance.pk:
                errors["parent"] = "An incident cannot be its own parent."
            elif parent.parent_id is not None:
                errors["parent"] = "Choose a parent that is not itself a child."
        clean["parent"] = parent
    check_group_membership(clean, errors, instance)
    if errors:
        raise TicketValidationError(errors)
    return clean


@transaction.atomic
def create_incident(*, by: User, channel: str = Channel.UI, **data: Any) -> Incident:
    """Log a new incident. Agents may log on someone's behalf and set any field."""
    if not by.is_authenticated or not by.is_active:
        raise Forbidden("Sign in first.")
    clean = _clean(data, by=by, creating=True)
    clean.setdefault("requester", by)
    clean.setdefault("impact", Level.LOW if not is_agent(by) else Level.MEDIUM)
    clean.setdefault("urgency", Level.LOW if not is_agent(by) else Level.MEDIUM)
    if not is_agent(by):
        clean["requester"] = by
        channel = Channel.PORTAL if channel == Channel.UI else channel
        clean["channel"] = channel
    clean.setdefault("channel", channel)
    incident = Incident(
        kind=KIND,
        priority=calculate_priority(clean["impact"], clean["urgency"]),
        **clean,
    )
    return core.open_ticket(incident, INCIDENT_MACHINE, PREFIX, by=by, channel=channel)


@transaction.atomic
def update_incident(
    incident: Incident,
    *,
    by: User,
    channel: str = Channel.UI,
    expected_version: int | None = None,
    **data: Any,
) -> Incident:
    """Change fields. ``expected_version`` guards against lost updates (StaleVersion)."""
    require(by, Action.EDIT, incident)
    refuse_edit_when_done(incident, "incident", data)
    clean = _clean(data, by=by, creating=False, instance=incident)
    _check_reassignment(incident, clean, by)
    if "impact" in clean or "urgency" in clean:
        clean["priority"] = calculate_priority(
            clean.get("impact", incident.impact), clean.get("urgency", incident.urgency)
        )
    if "assignee" in clean and incident.assignee_id and clean["assignee"] != incident.assignee:
        clean["reassignment_count"] = incident.reassignment_count + 1
    core.apply_changes(incident, clean, by=by, channel=channel, expected_version=expected_version)
    return incident


def _check_reassignment(incident: Incident, clean: dict[str, Any], by: User) -> None:
    """Taking a ticket off a colleague is the group manager's (or admin's) call."""
    moving_assignee = (
        "assignee" in clean
        and incident.assignee_id is not None
        and clean["assignee"] != incident.assignee
        and incident.assignee_id != by.pk
    )
    moving_group = (
        "assignment_group" in clean
        and incident.assignment_group_id is not None
        and incident.assignee_id is not None
        and clean["assignment_group"] != incident.assignment_group
        and incident.assignee_id != by.pk
    )
    if (moving_assignee or moving_group) and not can(by, Action.REASSIGN, incident):
        raise Forbidden(
            "This incident is assigned to someone else; ask a manager of its group to reassign it."
        )


@transaction.atomic
def assign(
    incident: Incident,
    *,
    by: User,
    assignment_group: AssignmentGroup | None = None,
    assignee: User | None = None,
    channel: str = Channel.UI,
    expected_version: int | None = None,
) -> Incident:
    """Set the group and/or assignee (clearing neither when it is not given)."""
    require(by, Action.ASSIGN, incident)
    data = assignment_values(assignment_group, assignee)
    return update_incident(
        incident, by=by, channel=channel, expected_version=expected_version, **data
    )


def _transition(
    incident: Incident,
    name: str,
    *,
    by: User,
    channel: str,
    expected_version: int | None,
    values: dict[str, Any] | None = None,
) -> Incident:
    """Run transition ``name`` (core.change_state) with the incident's own rules."""
    if name == "reopen":
        require(by, INCIDENT_MACHINE.check(incident.state, name).action, incident)
        if not is_agent(by) and incident.requester_id != by.pk:
            raise Forbidden("Only the caller or an agent may reopen this incident.")
    values = dict(values or {})
    target = INCIDENT_MACHINE.get(name).target
    if target != S.ON_HOLD and incident.hold_reason:
        values["hold_reason"] = ""
    if name == "reopen":
        values.update(resolution_code=None, resolution_notes="")
    core.change_state(
        incident,
        INCIDENT_MACHINE,
        name,
        by=by,
        channel=channel,
        expected_version=expected_version,
        values=values,
    )
    return incident


@transaction.atomic
def start(
    incident: Incident, *, by: User, channel: str = Channel.UI, expected_version: int | None = None
) -> Incident:
    """Begin work: New → In progress. Takes the incident if nobody has it."""
    values: dict[str, Any] = {}
    if incident.assignee_id is None and is_agent(by):
        values["assignee"] = by
    return _transition(
        incident, "start", by=by, channel=channel, expected_version=expected_version, values=values
    )


@transaction.atomic
def hold(
    incident: Incident,
    *,
    by: User,
    hold_reason: str,
    channel: str = Channel.UI,
    expected_version: int | None = None,
) -> Incident:
    """Pause: waiting on the caller, a vendor or a change."""
    INCIDENT_MACHINE.check(incident.state, "hold")
    if hold_reason not in HoldReason.values:
        raise TicketValidationError(
            {"hold_reason": f"Choose one of: {', '.join(HoldReason.values)}."}
        )
    return _transition(
        incident,
        "hold",
        by=by,
        channel=channel,
        expected_version=expected_version,
        values={"hold_reason": hold_reason},
    )


@transaction.atomic
def resume(
    incident: Incident, *, by: User, channel: str = Channel.UI, expected_version: int | None = None
) -> Incident:
    return _transition(
        incident, "resume", by=by, channel=channel, expected_version=expected_version
    )


@transaction.atomic
def resolve(
    incident: Incident,
    *,
    by: User,
    code: ResolutionCode | str | None,
    notes: str,
    channel: str = Channel.UI,
    expected_version: int | None = None,
    _cascade: bool = True,
) -> Incident:
    """Service restored. Needs a resolution code and notes; resolves child incidents too."""
    INCIDENT_MACHINE.check(incident.state, "resolve")
    errors: dict[str, str] = {}
    if isinstance(code, str):
        code = ResolutionCode.objects.filter(code=code, active=True).first() if code else None
        if code is None:
            errors["resolution_code"] = "Choose a resolution code."
    elif code is None or not code.active:
        errors["resolution_code"] = "Choose a resolution code."
    notes = (notes or "").strip()
    if not notes:
        errors["resolution_notes"] = "Say what restored the service."
    if errors:
        raise TicketValidationError(errors)
    _transition(
        incident,
        "resolve",
        by=by,
        channel=channel,
        expected_version=expected_version,
        values={"resolution_code": code, "resolution_notes": notes},
    )
    if _cascade:
        _resolve_children(incident, by=by, code=code, notes=notes, channel=channel)
    return incident


def _resolve_children(
    parent: Incident, *, by: User, code: ResolutionCode, notes: str, channel: str
) -> None:
    children = Incident.objects.select_for_update().filter(
        parent_id=parent.pk, state__in=[S.NEW, S.IN_PROGRESS, S.ON_HOLD]
    )
    for child in children:
        _transition(
            child,
            "resolve",
            by=by,
            channel=Channel.SYSTEM,
            expected_version=None,
            values={"resolution_code": code, "resolution_notes": notes},
        )
        # The public entry names no number: the child's requester may not see the parent.
        core.add_system_entry(child, "Resolved together with its parent incident.", by=by)
        core.add_system_entry(
            child,
            f"Resolved with parent incident {parent.number}.",
            by=by,
            kind=JournalKind.WORK_NOTE,
        )


@transaction.atomic
def reopen(
    incident: Incident,
    *,
    by: User,
    reason: str = "",
    channel: str = Channel.UI,
    expected_version: int | None = None,
) -> Incident:
    """The caller says it is not fixed: Resolved → In progress."""
    _transition(incident, "reopen", by=by, channel=channel, expected_version=expected_version)
    if reason.strip():
        core.add_journal_entry(incident, by=by, kind="comment", body=reason, channel=channel)
    return incident


@transaction.atomic
def close(
    incident: Incident, *, by: User, channel: str = Channel.UI, expected_version: int | None = None
) -> Incident:
    """The caller confirms the resolution (or the auto-close job does)."""
    return _transition(incident, "close", by=by, channel=channel, expected_version=expected_version)


@transaction.atomic
def cancel(
    incident: Incident,
    *,
    by: User,
    reason: str = "",
    channel: str = Channel.UI,
    expected_version: int | None = None,
) -> Incident:
    _transition(incident, "cancel", by=by, channel=channel, expected_version=expected_version)
    if reason.strip():
        core.add_journal_entry(incident, by=by, kind="work_note", body=reason, channel=channel)
    return incident


def transition(
    incident: Incident,
    name: str,
    *,
    by: User,
    channel: str = Channel.UI,
    expected_version: int | None = None,
    **params: Any,
) -> Incident:
    """Dispatch a transition by name (the API's and UI's action endpoints)."""
    functions = {
        "start": start,
        "hold": hold,
        "resume": resume,
        "resolve": resolve,
        "reopen": reopen,
        "close": close,
        "cancel": cancel,
    }
    fn = functions.get(name)
    if fn is None:
        raise InvalidTransition(name, incident.state, INCIDENT_MACHINE.allowed(incident.state))
    return fn(incident, by=by, channel=channel, expected_version=expected_version, **params)


def auto_close_resolved(*, now=None, batch: int = 500) -> int:
    """Close incidents resolved more than INCIDENT_AUTO_CLOSE_DAYS ago. Returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.INCIDENT_AUTO_CLOSE_DAYS)
    actor = system_user()
    closed = 0
    ids = list(
        Incident.objects.filter(state=S.RESOLVED, resolved_at__lt=cutoff)
        .order_by("resolved_at")
        .values_list("pk", flat=True)[:batch]
    )
    for pk in ids:
        with transaction.atomic():
            incident = (
                Incident.objects.select_for_update().filter(Q(pk=pk) & Q(state=S.RESOLVED)).first()
            )
            if incident is None:
                continue
            _transition(incident, "close", by=actor, channel=Channel.SYSTEM, expected_version=None)
            core.add_system_entry(
                incident,
                f"Closed automatically {settings.INCIDENT_AUTO_CLOSE_DAYS} days after resolution.",
            )
            closed += 1
    return closed


def categories_for(parent: Category | None = None):
    return Category.objects.filter(active=True, parent=parent)


# -- configuration (admins) ----------------------------------------------------------------
def category_errors(category: Category) -> dict[str, list[str]]:
    """What is wrong with ``category`` as it stands (the API and /admin/ both ask)."""
    errors: dict[str, list[str]] = {}
    parent = category.parent
    if parent is not None:
        if parent.parent_id is not None:
            errors["parent"] = ["Choose a top-level category: subcategories have no children."]
        elif category.pk is not None and parent.pk == category.pk:
            errors["parent"] = ["A category cannot be its own parent."]
        elif category.pk is not None and category.subcategories.exists():
            errors["parent"] = ["This category has subcategories, so it stays top-level."]
    siblings = Category.objects.filter(parent=parent, name__iexact=category.name.strip())
    if category.name and siblings.exclude(pk=category.pk).exists():
        errors["name"] = ["A category with this name exists at this level."]
    return errors


@transaction.atomic
def save_category(*, by: User, instance: Category | None = None, **data: Any) -> Category:
    """Create or change a category (``parent`` None) or subcategory. Admins only.

    Two levels only, names unique among siblings (ignoring case); a deactivated one stays
    on the tickets that have it but can no longer be chosen.
    """
    require_configure(by, "categories")
    category = instance or Category()
    for name, value in data.items():
        setattr(category, name, value.strip() if isinstance(value, str) else value)
    errors = category_errors(category)
    if errors:
        raise ValidationError(errors)
    category.full_clean(validate_constraints=False)
    category.save()
    return category


@transaction.atomic
def save_resolution_code(
    *, by: User, instance: ResolutionCode | None = None, **data: Any
) -> ResolutionCode:
    """Create or change a resolution code (admins). The code itself never changes once
    made (resolved tickets and reports refer to it); deactivate it instead."""
    require_configure(by, "resolution codes")
    code = instance or ResolutionCode()
    for name, value in data.items():
        setattr(code, name, value.strip() if isinstance(value, str) else value)
    if instance is None and ResolutionCode.objects.filter(code=code.code).exists():
        raise ValidationError({"code": ["This code exists."]})
    code.full_clean(validate_unique=False)
    code.save()
    return code


# The names the generic workspace and API call (core.registry: a practice's services).
create = create_incident
update = update_incident
