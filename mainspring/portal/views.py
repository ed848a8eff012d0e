"""The requester's self-service portal: report, follow, reply, reopen or confirm.

Views stay thin: parse the form, ask ``identity.policy``, call the incident or core
service, answer. A requester only ever sees public comments and system entries; work
notes and the audit trail never reach these templates.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import F, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from mainspring.core import services as core_services
from mainspring.core.drafts import draft_sent
from mainspring.core.models import Attachment, Channel, JournalEntry, JournalKind, Watcher
from mainspring.core.parsing import parse_int
from mainspring.core.services import AttachmentTooLarge, StaleVersion, TicketValidationError
from mainspring.core.states import InvalidTransition
from mainspring.identity.policy import Action, Forbidden, NotVisible, can, visible_tickets
from mainspring.incidents import services as incident_services
from mainspring.incidents.models import HoldReason, Incident, IncidentState
from mainspring.sla.models import SlaTimer, Target, TimerState

from .forms import AttachForm, CommentForm, ConfirmForm, ReopenForm, ReportForm, add_errors

PAGE_SIZE = 20
# Watched tickets are looked up first so the list query stays an index range.
WATCHED_LIMIT = 1000
OPEN_COUNT_CAP = 999

# Customer wording (UX.md #24): what the state means to the person waiting.
_WORDING: dict[str, tuple[str, str]] = {
    IncidentState.NEW: ("Submitted", "blue"),
    IncidentState.IN_PROGRESS: ("In progress", "amber"),
    IncidentState.ON_HOLD: ("In progress", "amber"),
    IncidentState.RESOLVED: ("Resolved — please confirm", "green"),
    IncidentState.CLOSED: ("Closed", "grey"),
    IncidentState.CANCELLED: ("Cancelled", "grey"),
}
_HOLD_WORDING: dict[str, tuple[str, str]] = {
    HoldReason.AWAITING_CALLER: ("Waiting for you", "purple"),
    HoldReason.AWAITING_VENDOR: ("Waiting on a supplier", "amber"),
    HoldReason.AWAITING_CHANGE: ("Waiting on a planned change", "amber"),
}


def customer_state(state: str, hold_reason: str | None = "") -> tuple[str, str]:
    """``(label, colour)`` of a ticket state in the requester's words."""
    if state == IncidentState.ON_HOLD and hold_reason in _HOLD_WORDING:
        return _HOLD_WORDING[hold_reason]
    return _WORDING.get(state, (state.replace("_", " ").capitalize(), "grey"))


def _my_tickets(user) -> QuerySet:
    """Tickets this person asked for or watches, inside what the policy lets them see.

    Agents see every ticket, but their portal is their own requests, as for anyone.
    """
    watched = list(
        Watcher.objects.filter(user_id=user.pk).values_list("ticket_id", flat=True)[:WATCHED_LIMIT]
    )
    mine = Q(requester_id=user.pk)
    if watched:
        mine |= Q(pk__in=watched)
    return visible_tickets(user).filter(mine)


def _parse_cursor(raw: str | None) -> int | None:
    return parse_int(raw or "", minimum=1)


def _home_context(request: HttpRequest, form: ReportForm) -> dict:
    user = request.user
    tickets = _my_tickets(user)
    before = _parse_cursor(request.GET.get("before"))
    page_qs = tickets.annotate(hold_reason=F("incident__hold_reason")).only(
        "id", "number", "kind", "title", "state", "is_open", "created_at", "updated_at"
    )
    if before:
        page_qs = page_qs.filter(pk__lt=before)
    rows = list(page_qs.order_by("-id")[: PAGE_SIZE + 1])
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    for row in rows:
        row.customer_label, row.customer_colour = customer_state(row.state, row.hold_reason)
    open_count = tickets.filter(is_open=True).order_by()[: OPEN_COUNT_CAP + 1].count()
    return {
        "form": form,
        "tickets": rows,
        "open_count": open_count,
        "open_count_cap": OPEN_COUNT_CAP,
        "next_cursor": rows[-1].pk if has_more and rows else None,
        "paged": bool(before),
    }


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The requester's start page: report something, and my tickets, newest first."""
    return render(request, "portal/home.html", _home_context(request, ReportForm()))


@login_required
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest) -> HttpResponse:
    """Report an incident (the short form); errors keep what was typed."""
    if request.method == "GET":
        return render(request, "portal/report.html", {"form": ReportForm()})
    form = ReportForm(request.POST)
    if form.is_valid():
        data = {
            "title": form.cleaned_data["title"],
            "description": form.cleaned_data["description"],
        }
        if form.cleaned_data.get("category") is not None:
            data["category"] = form.cleaned_data["category"]
        try:
            incident = incident_services.create_incident(
                by=request.user, channel=Channel.PORTAL, **data
            )
        except TicketValidationError as exc:
            add_errors(form, exc)
        except Forbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        else:
            draft_sent(request, "report")
            messages.success(
                request, f"Thanks — {incident.number} is logged. We will keep you posted here."
            )
            return redirect("portal:ticket", number=incident.number)
    return render(request, "portal/report.html", {"form": form}, status=400)


def _get_incident(user, number: str) -> Incident:
    """The incident if this person may see it; otherwise 404, whether or not it exists."""
    incident = (
        visible_tickets(user, Incident.objects.select_related("category"))
        .filter(number=(number or "").strip().upper())
        .first()
    )
    if incident is None:
        raise Http404
    return incident


def _render_ticket(
    request: HttpRequest,
    incident: Incident,
    *,
    status: int = 200,
    comment_form: CommentForm | None = None,
    attach_form: AttachForm | None = None,
    reopen_form: ReopenForm | None = None,
    confirm_form: ConfirmForm | None = None,
    problem: str = "",
) -> HttpResponse:
    user = request.user
    # Public entries only: work notes are filtered in the query, never in the template.
    entries = (
        JournalEntry.objects.filter(
            ticket_id=incident.pk, kind__in=[JournalKind.COMMENT, JournalKind.SYSTEM]
        )
        .select_related("author")
        .order_by("created_at", "id")
    )
    attachments = (
        Attachment.objects.filter(ticket_id=incident.pk)
        .select_related("uploaded_by")
        .order_by("created_at", "id")
    )
    resolved = incident.state == IncidentState.RESOLVED
    version = {"version": incident.version}
    label, colour = customer_state(incident.state, incident.hold_reason)
    context = {
        "ticket": incident,
        "state_label": label,
        "state_colour": colour,
        "entries": entries,
        "attachments": attachments,
        "comment_form": comment_form or CommentForm(),
        "attach_form": attach_form or AttachForm(),
        "can_reopen": resolved and can(user, Action.REOPEN, incident),
        "can_confirm": resolved and can(user, Action.CONFIRM, incident),
        "reopen_form": reopen_form or ReopenForm(initial=version),
        "confirm_form": confirm_form or ConfirmForm(initial=version),
        "problem": problem,
        "target_date": _resolution_target(incident),
    }
    return render(request, "portal/ticket.html", context, status=status)


def _resolution_target(incident: Incident):
    """When the running resolution timer breaches (UTC), or None: nothing to promise."""
    if not incident.is_open:
        return None
    return (
        SlaTimer.objects.filter(
            ticket_id=incident.pk,
            target=Target.RESOLUTION,
            state=TimerState.IN_PROGRESS,
            breach_at__isnull=False,
        )
        .order_by("breach_at")
        .values_list("breach_at", flat=True)
        .first()
    )


def _ticket_action(view: Callable) -> Callable:
    """POST-only, signed in, the ticket looked up through the policy; refusals mapped."""

    @login_required
    @require_POST
    @wraps(view)
    def wrapper(request: HttpRequest, number: str) -> HttpResponse:
        incident = _get_incident(request.user, number)
        try:
            return view(request, incident)
        except NotVisible as exc:
            raise Http404 from exc
        except Forbidden as exc:
            raise PermissionDenied(str(exc)) from exc

    return wrapper


def _back(incident: Incident, anchor: str = "") -> HttpResponse:
    url = reverse("portal:ticket", kwargs={"number": incident.number})
    return redirect(f"{url}#{anchor}" if anchor else url)


@login_required
def ticket(request: HttpRequest, number: str) -> HttpResponse:
    """One ticket as its requester sees it: public conversation, files, confirm/reopen."""
    return _render_ticket(request, _get_incident(request.user, number))


@_ticket_action
def comment(request: HttpRequest, incident: Incident) -> HttpResponse:
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            core_services.add_journal_entry(
                incident,
                by=request.user,
                kind=JournalKind.COMMENT,
                body=form.cleaned_data["body"],
                channel=Channel.PORTAL,
            )
        except TicketValidationError as exc:
            add_errors(form, exc)
        else:
            draft_sent(request, f"portal-comment:{incident.number}")
            messages.success(request, "Your comment was added.")
            return _back(incident, "conversation")
    return _render_ticket(request, incident, comment_form=form, status=400)


@_ticket_action
def attach(request: HttpRequest, incident: Incident) -> HttpResponse:
    form = AttachForm(request.POST, request.FILES)
    status = 400
    if form.is_valid():
        try:
            attachment = core_services.add_attachment(
                incident,
                by=request.user,
                upload=form.cleaned_data["file"],
                channel=Channel.PORTAL,
            )
        except AttachmentTooLarge as exc:
            form.add_error("file", str(exc))
            status = 413
        except TicketValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"“{attachment.filename}” was attached.")
            return _back(incident, "files")
    return _render_ticket(request, incident, attach_form=form, status=status)


def _transition(
    request: HttpRequest,
    incident: Incident,
    form: ReopenForm | ConfirmForm,
    run: Callable[[int], object],
    done: str,
    form_key: str,
) -> HttpResponse:
    """Run a requester transition; a stale or refused one re-renders the fresh ticket."""
    if form.is_valid():
        try:
            run(form.cleaned_data["version"])
        except TicketValidationError as exc:
            add_errors(form, exc)
            # A refused service call may have touched the in-memory object; show the
            # stored ticket.
            incident = _get_incident(request.user, incident.number)
        except (StaleVersion, InvalidTransition):
            fresh = _get_incident(request.user, incident.number)
            problem = (
                "This ticket changed while you were reading it, so nothing was done. "
                "Here is the latest; check it and try again if still needed."
            )
            # Keep what the person wrote (the reopen reason), against the new version.
            kept = type(form)(initial={**form.cleaned_data, "version": fresh.version})
            return _render_ticket(request, fresh, status=409, problem=problem, **{form_key: kept})
        else:
            messages.success(request, done)
            return _back(incident)
    return _render_ticket(request, incident, status=400, **{form_key: form})


@_ticket_action
def reopen(request: HttpRequest, incident: Incident) -> HttpResponse:
    form = ReopenForm(request.POST)

    def run(version: int) -> object:
        return incident_services.reopen(
            incident,
            by=request.user,
            reason=form.cleaned_data.get("reason") or "",
            channel=Channel.PORTAL,
            expected_version=version,
        )

    return _transition(
        request,
        incident,
        form,
        run,
        "Reopened. The service desk will pick it up again.",
        "reopen_form",
    )


@_ticket_action
def confirm(request: HttpRequest, incident: Incident) -> HttpResponse:
    form = ConfirmForm(request.POST)

    def run(version: int) -> object:
        return incident_services.close(
            incident, by=request.user, channel=Channel.PORTAL, expected_version=version
        )

    return _transition(
        request,
        incident,
        form,
        run,
        "Thanks for confirming. The ticket is closed.",
        "confirm_form",
    )
