"""Problem operations: the one way in for the workspace, the API and the demo.

Shared steps come from ``core`` (``open_ticket``, ``change_state``, ``apply_changes``,
the journal, ``ticket_fields``); what is here is what problem management adds: linking
incidents, recording a known error (its workaround reaches every linked incident and a
knowledge article goes to review) and resolving the linked incidents with the problem.
Each function takes the actor as ``by=``, runs in one transaction and returns the
problem.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from mainspring.core import services as core
from mainspring.core.models import Channel, JournalKind, Level
from mainspring.core.services import StaleVersion, TicketValidationError
from mainspring.core.states import InvalidTransition
from mainspring.core.ticket_fields import (
    assignment_values,
    check_group_membership,
    clean_ticket_fields,
    refuse_edit_when_done,
)
from mainspring.identity.models import AssignmentGroup, User
from mainspring.identity.policy import Action, Forbidden, is_agent, require
from mainspring.incidents import services as incidents
from mainspring.incidents.models import Incident
from mainspring.incidents.services import calculate_priority

from .models import KIND, PREFIX, Problem, ProblemResolution
from .states import PROBLEM_MACHINE

__all__ = [
    "InvalidTransition",
    "StaleVersion",
    "TicketValidationError",
    "assign",
    "create",
    "link_incident",
    "mark_known_error",
    "transition",
    "unlink_incident",
    "update",
]

# A problem's own fields, beyond those every ticket has (core.ticket_fields). The
# known-error flag and resolution are set by their own actions, never by a PATCH.
AGENT_FIELDS = frozenset({"root_cause", "workaround", "fix_notes"})
TEXT_LIMIT = 65_536
MAX_LINKED_AT_ONCE = 100


def _clean(data: dict[str, Any], *, by: User, creating: bool, instance=None) -> dict[str, Any]:
    if not is_agent(by):
        raise Forbidden("Only agents work on problems.")
    clean, errors = clean_ticket_fields(
        data, by=by, creating=creating, instance=instance, agent_extra=AGENT_FIELDS
    )
    for name in AGENT_FIELDS & set(data):
        value = data[name] or ""
        if len(value) > TEXT_LIMIT:
            errors[name] = "Keep this under 64 KB; attach long documents."
        clean[name] = value
    check_group_membership(clean, errors, instance)
    if errors:
        raise TicketValidationError(errors)
    return clean


@transaction.atomic
def create(
    *, by: User, channel: str = Channel.UI, incidents: Iterable[Incident] = (), **data: Any
) -> Problem:
    """Record a problem (agents), optionally from the incidents it explains."""
    clean = _clean(data, by=by, creating=True)
    clean.setdefault("requester", by)
    clean.setdefault("impact", Level.MEDIUM)
    clean.setdefault("urgency", Level.MEDIUM)
    clean.setdefault("channel", channel)
    problem = Problem(
        kind=KIND, priority=calculate_priority(clean["impact"], clean["urgency"]), **clean
    )
    core.open_ticket(problem, PROBLEM_MACHINE, PREFIX, by=by, channel=channel)
    for incident in incidents:
        link_incident(problem, incident, by=by, channel=channel)
    return problem


@transaction.atomic
def update(
    problem: Problem,
    *,
    by: User,
    channel: str = Channel.UI,
    expected_version: int | None = None,
    **data: Any,
) -> Problem:
    """Change fields (root cause, workaround, fix notes, classification...)."""
    require(by, Action.EDIT, problem)
    refuse_edit_when_done(problem, "problem", data)
    clean = _clean(data, by=by, creating=False, instance=problem)
    if "impact" in clean or "urgency" in clean:
        clean["priority"] = calculate_priority(
            clean.get("impact", problem.impact), clean.get("urgency", problem.urgency)
        )
    core.apply_changes(problem, clean, by=by, channel=channel, expected_version=expected_version)
    return problem


@transaction.atomic
def assign(
    problem: Problem,
    *,
    by: User,
    assignment_group: AssignmentGroup | None = None,
    assignee: User | None = None,
    channel: str = Channel.UI,
    expected_version: int | None = None,
) -> Problem:
    """Set the group and/or the problem's owner."""
    require(by, Action.ASSIGN, problem)
    data = assignment_values(assignment_group, assignee)
    return update(problem, by=by, channel=channel, expected_version=expected_version, **data)


# -- lifecycle ---------------------------------------------------------------------------
def _linked_open_incidents(problem: Problem) -> list[Incident]:
    return list(
        Incident.objects.select_for_update()
        .filter(caused_by_id=problem.pk, is_open=True)
        # Prefetched, not joined: FOR UPDATE cannot lock the nullable side of a join.
        .prefetch_related("assignee")
        .order_by("id")
    )


def _resolve(
    problem: Problem,
    *,
    by: User,
    channel: str,
    expected_version: int | None,
    resolution_code: str = "",
    resolution_notes: str = "",
    resolve_incidents: bool = False,
) -> None:
    PROBLEM_MACHINE.check(problem.state, "resolve")
    errors: dict[str, str] = {}
    if resolution_code not in ProblemResolution.values:
        errors["resolution_code"] = f"Choose one of: {', '.join(ProblemResolution.values)}."
    notes = (resolution_notes or "").strip()
    if not notes:
        errors["resolution_notes"] = "Say how the cause was removed, or why it is accepted."
    if errors:
        raise TicketValidationError(errors)
    core.change_state(
        problem,
        PROBLEM_MACHINE,
        "resolve",
        by=by,
        channel=channel,
        expected_version=expected_version,
        values={"resolution_code": resolution_code, "resolution_notes": notes},
    )
    linked = _linked_open_incidents(problem)
    if resolve_incidents:
        for incident in linked:
            incidents.resolve(
                incident,
                by=by,
                code="solved",
                notes=f"Resolved with problem {problem.number}: {notes}",
                channel=channel,
            )
            core.add_system_entry(
                incident,
                f"Resolved together with problem {problem.number}.",
                by=by,
                kind=JournalKind.WORK_NOTE,
            )
        return
    from mainspring.notifications.services import Notice, queue_notices

    queue_notices(
        [
            Notice(
                incident,
                key=f"{problem.pk}:{problem.version}:{incident.pk}",
                event="problem_resolved",
                subject=f"[{incident.number}] Problem {problem.number} is resolved",
                body=(
                    f"The problem behind {incident.number}, {problem.number} "
                    f"“{problem.title}”, is resolved:\n\n{notes}\n\n"
                    f"Check whether {incident.number} can be resolved too.\n{incident.web_url}"
                ),
                users=(incident.assignee,),
            )
            for incident in linked
            if incident.assignee is not None
        ]
    )


@transaction.atomic
def transition(
    problem: Problem,
    name: str,
    *,
    by: User,
    channel: str = Channel.UI,
    expected_version: int | None = None,
    reason: str = "",
    **params: Any,
) -> Problem:
    """Run transition ``name``: assess, analyse, fix, resolve (code, notes, and
    ``resolve_incidents``), close, reopen or cancel (``reason`` goes to the journal)."""
    if name == "resolve":
        _resolve(problem, by=by, channel=channel, expected_version=expected_version, **params)
        return problem
    if params:
        raise TicketValidationError({k: "Not expected here." for k in params})
    values: dict[str, Any] = {}
    if name == "reopen":
        values = {"resolution_code": "", "resolution_notes": ""}
    core.change_state(
        problem,
        PROBLEM_MACHINE,
        name,
        by=by,
        channel=channel,
        expected_version=expected_version,
        values=values,
    )
    if reason.strip():
        core.add_journal_entry(
            problem, by=by, kind=JournalKind.WORK_NOTE, body=reason, channel=channel
        )
    return problem


# -- linked incidents --------------------------------------------------------------------
@transaction.atomic
def link_incident(
    problem: Problem, incident: Incident, *, by: User, channel: str = Channel.UI
) -> Problem:
    """Say ``incident`` is caused by ``problem`` (moving it from another problem).

    Recorded on both: the incident's ``problem`` field is audited on the incident, and
    the link on the problem's trail. Linking again is a no-op.
    """
    require(by, Action.EDIT, problem)
    require(by, Action.WORK, incident)
    if incident.caused_by_id == problem.pk:
        return problem
    if not problem.is_open:
        raise TicketValidationError({"incident": "Reopen the problem to link more incidents."})
    core.apply_changes(incident, {"caused_by": problem}, by=by, channel=channel)
    core.write_audit(problem, {"incident": ("", incident.number)}, by=by, channel=channel)
    return problem


@transaction.atomic
def unlink_incident(
    problem: Problem, incident: Incident, *, by: User, channel: str = Channel.UI
) -> Problem:
    """Take ``incident`` off ``problem``; both trails record it."""
    require(by, Action.EDIT, problem)
    if incident.caused_by_id != problem.pk:
        raise TicketValidationError({"incident": f"{incident.number} is not linked here."})
    core.apply_changes(incident, {"caused_by": None}, by=by, channel=channel)
    core.write_audit(problem, {"incident": (incident.number, "")}, by=by, channel=channel)
    return problem


# -- known error -------------------------------------------------------------------------
def _article_body(problem: Problem, workaround: str) -> str:
    parts = ["## Symptoms", (problem.description or problem.title).strip()]
    if problem.root_cause.strip():
        parts += ["## Cause", problem.root_cause.strip()]
    parts += ["## Workaround", workaround.strip(), f"_Known error of problem {problem.number}._"]
    return "\n\n".join(parts) + "\n"


@transaction.atomic
def mark_known_error(
    problem: Problem,
    *,
    by: User,
    workaround: str,
    channel: str = Channel.UI,
    expected_version: int | None = None,
) -> Problem:
    """Record that the cause is known and how to work around it.

    The first time: sets ``known_error`` and the workaround, posts the workaround as a
    work note on every open linked incident, and writes a known-error knowledge article
    (symptoms, cause, workaround), submitted for review so it is published the way every
    article is. Sent again with the same workaround it changes nothing (a retry); with a
    new one it updates the problem and tells the open incidents again.
    """
    require(by, Action.WORK, problem)
    workaround = (workaround or "").strip()
    if not workaround:
        raise TicketValidationError({"workaround": "Say how people can work around it."})
    if len(workaround) > TEXT_LIMIT:
        raise TicketValidationError({"workaround": "Keep this under 64 KB."})
    if not problem.is_open:
        raise TicketValidationError(
            {"state": "A resolved, closed or cancelled problem cannot become a known error."}
        )
    if problem.known_error and problem.workaround.strip() == workaround:
        if expected_version is not None and expected_version != problem.version:
            raise StaleVersion(problem.version)
        return problem
    first_time = not problem.known_error
    core.apply_changes(
        problem,
        {"known_error": True, "workaround": workaround},
        by=by,
        channel=channel,
        expected_version=expected_version,
    )
    what = "Known error" if first_time else "Known error, workaround updated"
    for incident in _linked_open_incidents(problem):
        core.add_journal_entry(
            incident,
            by=by,
            kind=JournalKind.WORK_NOTE,
            body=f"{what} ({problem.number}). Workaround:\n\n{workaround}",
            channel=channel,
        )
    if first_time and problem.known_error_article_id is None:
        from mainspring.knowledge import services as knowledge
        from mainspring.knowledge.models import ArticleKind, Audience

        article = knowledge.create_article(
            by=by,
            title=f"Known error: {problem.title}"[:200],
            summary=workaround.splitlines()[0][:500],
            body=_article_body(problem, workaround),
            kind=ArticleKind.KNOWN_ERROR,
            audience=Audience.AGENTS,
        )
        knowledge.submit(article, by=by)
        Problem.objects.filter(pk=problem.pk).update(known_error_article=article)
        problem.known_error_article = article
    return problem
