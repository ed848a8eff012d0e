"""The agent workspace for incidents: queue, jump, create, detail and its actions.

Views stay thin: parse a form, ask the policy, call a service, answer. Domain errors
become messages or field errors, never 500s: InvalidTransition names what is allowed,
TicketValidationError lands on the fields, Forbidden is a message with 403, NotVisible
is a 404. Every page works without JavaScript; with HTMX, actions on the detail page
answer with the ``#incident`` partial and queue filters with the results partial.
"""

from __future__ import annotations

from datetime import datetime
from itertools import groupby

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_POST

from mainspring.core import services as core
from mainspring.core.canned import responses_for
from mainspring.core.drafts import draft_sent
from mainspring.core.mentions import mentioned_agents
from mainspring.core.models import (
    Attachment,
    AuditEntry,
    Channel,
    JournalEntry,
    JournalKind,
    LinkKind,
    Ticket,
    TicketLink,
    Watcher,
)
from mainspring.core.numbering import parse_number
from mainspring.core.parsing import parse_int
from mainspring.identity.models import AssignmentGroup, Membership, User
from mainspring.identity.policy import (
    Action,
    Forbidden,
    NotVisible,
    can,
    require,
    visible_tickets,
)
from mainspring.workspace.access import agent_page

from . import queues, services
from .forms import (
    AssignForm,
    AttachmentForm,
    BulkForm,
    CommentForm,
    HoldForm,
    IncidentCreateForm,
    IncidentEditForm,
    LinkForm,
    PresenceForm,
    QueueFilterForm,
    ReasonForm,
    ResolveForm,
    SaveViewForm,
    WatcherForm,
    agents_queryset,
    canonical_query,
    edit_initial,
    parse_sort,
    priority_label,
)
from .models import PREFIX, Category, HoldReason, Incident, ResolutionCode
from .states import INCIDENT_MACHINE


def _is_partial(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def _queue_context(request: HttpRequest, params: QueryDict) -> dict:
    user = request.user
    groups = list(AssignmentGroup.objects.filter(active=True).only("id", "name"))
    agents = list(agents_queryset())
    my_group_ids = list(Membership.objects.filter(user=user).values_list("group_id", flat=True))
    form = QueueFilterForm(params, groups=groups, agents=agents)
    filters = form.valid_data()
    sort = parse_sort(params.get("sort"))
    base_query = canonical_query(filters)
    current_query = canonical_query(filters, sort)
    rows, has_older, has_newer = queues.page(
        queues.filtered(user, filters, my_group_ids),
        sort,
        queues.int_param(request, "after"),
        queues.int_param(request, "before"),
    )
    sep = "&" if current_query else ""
    items, saved = queues.sidebar(user, my_group_ids, current_query, groups, agents)
    return {
        "form": form,
        "rows": rows,
        "sort": sort,
        "sort_links": {s["key"]: s for s in queues.sort_links(base_query, sort)},
        "query": current_query,
        "older_href": f"?{current_query}{sep}after={rows[-1].pk}" if has_older else None,
        "newer_href": f"?{current_query}{sep}before={rows[0].pk}" if has_newer else None,
        "sidebar": items,
        "saved_views": saved,
        "save_form": SaveViewForm(initial={"query": current_query}),
        "bulk_form": BulkForm(agent_list=agents),
        "ignored": [form[name].label for name in form.errors if name in form.fields],
    }


@agent_page
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """The agent queue: sidebar views, filters and sort in the URL, keyset pages."""
    context = _queue_context(request, request.GET)
    template = "incidents/_queue_results.html" if _is_partial(request) else "incidents/queue.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@agent_page
@require_POST
def save_view(request: HttpRequest) -> HttpResponse:
    """Save the current filter as a personal view (re-normalised, never stored raw)."""
    form = SaveViewForm(request.POST)
    query = _normalise_query(request.POST.get("query", ""))
    if form.is_valid():
        try:
            view = core.save_view(by=request.user, name=form.cleaned_data["name"], query=query)
        except core.TicketValidationError as exc:
            messages.error(request, " ".join(m for ms in exc.fields.values() for m in ms))
        else:
            messages.success(request, f"Saved the view “{view.name}”.")
    else:
        messages.error(request, "Name the view to save it (up to 80 characters).")
    return _queue_redirect(query)


def _normalise_query(raw: str) -> str:
    """A posted filter as the canonical, allowlisted query string."""
    groups = list(AssignmentGroup.objects.filter(active=True).only("id", "name"))
    params = QueryDict((raw or "")[:2000])
    filters = QueueFilterForm(params, groups=groups, agents=agents_queryset()).valid_data()
    return canonical_query(filters, parse_sort(params.get("sort")))


def _queue_redirect(query: str) -> HttpResponse:
    url = reverse("incidents:queue")
    return redirect(f"{url}?{query}" if query else url)


def _refusal(exc: Exception) -> str:
    if isinstance(exc, services.InvalidTransition):
        state = queues.state_info(exc.state)
        return f"it is {state.label if state else exc.state}"
    if isinstance(exc, services.TicketValidationError):
        return " ".join(m for ms in exc.fields.values() for m in ms)
    return str(exc) or "not allowed"


@agent_page
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """Apply one action to the selected rows; each row goes through the service on its own
    and rows that can't be changed are reported by number, with the reason."""
    form = BulkForm(request.POST)
    if not form.is_valid():
        for _, label, message in form.error_list():
            messages.error(request, f"{label}: {message}" if label else message)
        return _queue_redirect(_normalise_query(request.POST.get("query", "")))
    action, user = form.cleaned_data["action"], request.user
    incidents = Incident.objects.filter(number__in=form.cleaned_data["ids"]).order_by("-id")
    done, refused = [], []
    for incident in incidents:
        try:
            if action == "assign_me":
                services.assign(incident, by=user, assignee=user, channel=Channel.UI)
            elif action == "assign":
                services.assign(
                    incident, by=user, assignee=form.cleaned_data["assignee"], channel=Channel.UI
                )
            else:
                services.transition(incident, action, by=user, channel=Channel.UI)
        except (
            Forbidden,
            NotVisible,
            services.InvalidTransition,
            services.TicketValidationError,
            services.StaleVersion,
        ) as exc:
            refused.append(f"{incident.number} ({_refusal(exc)})")
        else:
            done.append(incident.number)
    missing = len(form.cleaned_data["ids"]) - len(done) - len(refused)
    if done:
        messages.success(request, f"Updated {len(done)}: {', '.join(done)}.")
    if refused:
        messages.warning(request, f"Not changed: {'; '.join(refused)}.")
    if missing:
        messages.warning(request, f"{missing} selected incident(s) no longer exist.")
    return _queue_redirect(_normalise_query(request.POST.get("query", "")))


@agent_page
@require_POST
def delete_view(request: HttpRequest, view_id: int) -> HttpResponse:
    if core.delete_view(by=request.user, view_id=view_id):
        messages.success(request, "View deleted.")
    else:
        raise Http404
    return redirect("incidents:queue")


# --- Create --------------------------------------------------------------------------


def _category_lists(category_id=None):
    categories = Category.objects.filter(active=True, parent__isnull=True)
    subcategories = Category.objects.filter(
        active=True, parent__isnull=False, parent__active=True
    ).select_related("parent")
    if category_id:
        subcategories = subcategories.filter(parent_id=category_id)
    return categories, subcategories


def _subcategory_choices(subcategories, grouped: bool) -> list:
    subs = list(subcategories)
    if not grouped:
        return [("", "(none)")] + [(s.pk, s.name) for s in subs]
    subs.sort(key=lambda s: (s.parent.name, s.name))
    return [("", "(none)")] + [
        (parent, [(s.pk, s.name) for s in items])
        for parent, items in groupby(subs, key=lambda s: s.parent.name)
    ]


def _setup_categories(form, category_id) -> None:
    """Subcategory options: the chosen category's, or all grouped by category (no JS)."""
    valid_id = parse_int(category_id, minimum=1)
    categories, subcategories = _category_lists(valid_id)
    form.setup_categories(categories, subcategories)
    form.fields["subcategory"].choices = _subcategory_choices(subcategories, not valid_id)


@agent_page
def create(request: HttpRequest) -> HttpResponse:
    """Log an incident, usually on a caller's behalf."""
    status = 200
    if request.method == "POST":
        form = IncidentCreateForm(request.POST)
        _setup_categories(form, request.POST.get("category"))
        if form.is_valid():
            channel = form.cleaned_data.pop("channel")
            try:
                incident = services.create_incident(
                    by=request.user, channel=channel, **form.service_kwargs()
                )
            except services.TicketValidationError as exc:
                form.apply_errors(exc.fields)
            except Forbidden as exc:
                messages.error(request, str(exc))
                status = 403
            else:
                draft_sent(request, "new-incident")
                messages.success(request, f"{incident.number} created.")
                return redirect("incidents:detail", number=incident.number)
        status = 403 if status == 403 else 400
    else:
        form = IncidentCreateForm()
        _setup_categories(form, None)
    return render(
        request,
        "incidents/create.html",
        {"form": form, "priority_preview": _priority_preview(form)},
        status=status,
    )


def _priority_preview(form) -> str:
    data = form.data if form.is_bound else {}
    impact = data.get("impact") or form.fields["impact"].initial
    urgency = data.get("urgency") or form.fields["urgency"].initial
    return priority_label(services.calculate_priority(impact, urgency))


@agent_page
@require_GET
def subcategory_options(request: HttpRequest) -> HttpResponse:
    """The ``<option>``s of the subcategory select for the chosen category (HTMX)."""
    raw = request.GET.get("category") or request.GET.get("edit-category") or ""
    valid = parse_int(raw, minimum=1)
    _, subcategories = _category_lists(valid)
    groups = []
    for value, label in _subcategory_choices(subcategories, not valid):
        if isinstance(label, list):
            groups.append({"label": value, "options": label})
        else:
            groups.append({"label": None, "options": [(value, label)]})
    return render(request, "incidents/_subcategory_options.html", {"groups": groups})


@agent_page
@require_GET
def priority_preview(request: HttpRequest) -> HttpResponse:
    """The priority the impact x urgency matrix gives (HTMX preview on the forms)."""
    impact, urgency = request.GET.get("impact", ""), request.GET.get("urgency", "")
    return HttpResponse(
        priority_label(services.calculate_priority(impact, urgency)),
        content_type="text/plain; charset=utf-8",
    )


# --- Detail --------------------------------------------------------------------------

FIELD_LABELS = {
    "state": "State",
    "priority": "Priority",
    "impact": "Impact",
    "urgency": "Urgency",
    "title": "Short description",
    "description": "Description",
    "category": "Category",
    "subcategory": "Subcategory",
    "assignment_group": "Group",
    "assignee": "Assignee",
    "requester": "Caller",
    "hold_reason": "Hold reason",
    "resolution_code": "Resolution code",
    "resolution_notes": "Resolution notes",
    "major_incident": "Major incident",
    "parent": "Parent",
    "attachment": "Attachment",
    "watcher": "Watcher",
    "responded_at": "First response",
    "resolved_at": "Resolved at",
    "closed_at": "Closed at",
    "reassignment_count": "Reassignments",
}


def _audit_value(field: str, value: str) -> str:
    if not value:
        return "(empty)"
    if field.endswith("_at"):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return date_format(timezone.localtime(moment), "Y-m-d H:i")
    if field == "state":
        state = queues.state_info(value)
        return state.label if state else value
    if field == "priority" and value.isdigit():
        return priority_label(int(value))
    if field == "hold_reason":
        return dict(HoldReason.choices).get(value, value)
    if field in ("impact", "urgency"):
        return value.capitalize()
    return value


def _audit_label(field: str) -> str:
    if field.startswith("link:"):
        kind = field.split(":", 1)[1]
        return f"Link ({dict(LinkKind.choices).get(kind, kind)})"
    return FIELD_LABELS.get(field, field.replace("_", " ").capitalize())


def _timeline(ticket_id: int) -> list[dict]:
    """Journal and audit in time order; audit rows of one change are one item."""
    journal = JournalEntry.objects.filter(ticket_id=ticket_id).select_related("author")
    audit = AuditEntry.objects.filter(ticket_id=ticket_id).select_related("actor")
    items = [{"type": "journal", "at": e.created_at, "id": e.pk, "entry": e} for e in journal]
    for (at, _actor), rows in groupby(audit, key=lambda a: (a.created_at, a.actor_id)):
        rows = list(rows)
        items.append(
            {
                "type": "audit",
                "at": at,
                "id": rows[0].pk,
                "actor": rows[0].actor,
                "channel": rows[0].get_channel_display(),
                "changes": [
                    {
                        "field": _audit_label(r.field),
                        "old": _audit_value(r.field, r.old_value),
                        "new": _audit_value(r.field, r.new_value),
                        "long": r.field in ("description", "resolution_notes"),
                    }
                    for r in rows
                ],
            }
        )
    # Audit first within one instant: a state change reads before the note it caused.
    items.sort(key=lambda i: (i["at"], i["type"] == "journal", i["id"]))
    return items


def _newest_entry_id(timeline: list[dict]) -> int:
    return max((i["id"] for i in timeline if i["type"] == "journal"), default=0)


def _activity_since(incident: Incident, seen: int, by: User) -> tuple[list[str], int]:
    """Who else wrote on the incident after entry ``seen``, and the newest entry's id."""
    newer = list(
        JournalEntry.objects.filter(ticket_id=incident.pk, pk__gt=seen)
        .exclude(author=by)
        .select_related("author")
        .order_by("-pk")[:20]
    )
    names = sorted({e.author.name if e.author else "Mainspring" for e in newer})
    newest = JournalEntry.objects.filter(ticket_id=incident.pk).order_by("-pk").values("pk")[:1]
    return names, next((row["pk"] for row in newest), seen)


def _load(request: HttpRequest, number: str) -> Incident:
    # Four joins, then prefetches: a ten-table join costs PostgreSQL more to plan than
    # the few small lookups cost to run (see docs/performance.md).
    incident = (
        Incident.objects.select_related("requester", "opened_by", "assignee", "assignment_group")
        .prefetch_related("category", "subcategory", "resolution_code", "parent")
        .filter(number=number.upper())
        .first()
    )
    if incident is None:
        raise Http404
    try:
        require(request.user, Action.VIEW, incident)
    except NotVisible as exc:
        raise Http404 from exc
    return incident


def _edit_form(incident, data=None) -> IncidentEditForm:
    form = IncidentEditForm(data, initial=None if data else edit_initial(incident), prefix="edit")
    category = (data.get("edit-category") if data else None) or incident.category_id
    _setup_categories(form, category)
    return form


def _detail_context(request: HttpRequest, incident: Incident, **overrides) -> dict:
    user = request.user
    queues.decorate(incident)
    groups = AssignmentGroup.objects.filter(active=True).only("id", "name")
    agents = agents_queryset()
    watchers = list(Watcher.objects.filter(ticket_id=incident.pk).select_related("user"))
    transitions = list(
        INCIDENT_MACHINE.available(incident.state, may=lambda t: can(user, t.action, incident))
    )
    timeline = _timeline(incident.pk)
    context = {
        "incident": incident,
        "hold_reason_label": dict(HoldReason.choices).get(incident.hold_reason, ""),
        "timeline": timeline,
        "attachments": list(
            Attachment.objects.filter(ticket_id=incident.pk).select_related("uploaded_by")
        ),
        "watchers": watchers,
        "is_watching": any(w.user_id == user.pk for w in watchers),
        "links_out": list(
            TicketLink.objects.filter(source_id=incident.pk).select_related("target")
        ),
        "links_in": list(TicketLink.objects.filter(target_id=incident.pk).select_related("source")),
        # One more than shown, to say "and more" without counting.
        "caller_open": list(
            Ticket.objects.filter(requester_id=incident.requester_id, is_open=True)
            .exclude(pk=incident.pk)
            .only("id", "number", "title", "created_at")
            .order_by("-id")[:6]
        ),
        "children": list(
            Ticket.objects.filter(parent_id=incident.pk)
            .only("id", "number", "title", "state")
            .order_by("id")[:50]
        ),
        "transitions": transitions,
        "transition_names": {t.name for t in transitions},
        "can_edit": can(user, Action.EDIT, incident) and incident.is_open,
        "edit_form": _edit_form(incident),
        "comment_form": CommentForm(initial={"seen": _newest_entry_id(timeline)}),
        "canned": responses_for(incident, user),
        "resolve_form": ResolveForm(codes=ResolutionCode.objects.filter(active=True)),
        "hold_form": HoldForm(),
        "reason_form": ReasonForm(),
        "assign_form": AssignForm(groups=groups, agents=agents),
        "attach_form": AttachmentForm(),
        "watcher_form": WatcherForm(),
        "link_form": LinkForm(),
        "open_panel": None,
        "focus": None,
        "conflict": None,
    }
    for form in ("assign_form",):
        if form in overrides:
            overrides[form].fields["assignment_group"].queryset = groups
            overrides[form].fields["assignee"].queryset = agents
    context.update(overrides)
    return context


@agent_page
@require_GET
def detail(request: HttpRequest, number: str) -> HttpResponse:
    """An incident: header, actions, properties, timeline, attachments, links, watchers."""
    incident = _load(request, number)
    return render(request, "incidents/detail.html", _detail_context(request, incident))


def _respond(request: HttpRequest, incident: Incident, status: int = 200, **overrides):
    """After an action: the ``#incident`` partial for HTMX, else redirect (or re-render)."""
    if _is_partial(request):
        # Focus moves deliberately after a swap: to what needs attention, else the heading.
        overrides.setdefault("focus", "incident-heading")
        fresh = _load(request, incident.number)
        context = _detail_context(request, fresh, **overrides)
        return render(request, "incidents/_detail_partial.html", context, status=status)
    if status < 400:
        return redirect("incidents:detail", number=incident.number)
    fresh = _load(request, incident.number)
    return render(
        request,
        "incidents/detail.html",
        _detail_context(request, fresh, **overrides),
        status=status,
    )


def _forbidden(request, incident, exc, **overrides):
    messages.error(request, str(exc) or "You may not do this.")
    return _respond(request, incident, 403, **overrides)


@agent_page
@require_POST
def edit(request: HttpRequest, number: str) -> HttpResponse:
    """Save the properties panel; a stale ``version`` shows a conflict, never overwrites."""
    incident = _load(request, number)
    form = _edit_form(incident, request.POST)
    if not form.is_valid():
        return _respond(request, incident, 400, edit_form=form, focus="edit-errors")
    values = form.changed_values(incident)
    try:
        services.update_incident(
            incident,
            by=request.user,
            channel=Channel.UI,
            expected_version=form.cleaned_data["version"],
            **values,
        )
    except services.StaleVersion as exc:
        return _conflict(request, incident, form, values, exc.current)
    except services.TicketValidationError as exc:
        form.apply_errors(exc.fields)
        return _respond(request, incident, 400, edit_form=form, focus="edit-errors")
    except Forbidden as exc:
        return _forbidden(request, incident, exc, edit_form=form)
    messages.success(request, "Saved." if values else "Nothing to save; no field changed.")
    return _respond(request, incident)


def _conflict(request, incident, form, values, current_version: int) -> HttpResponse:
    """Keep the user's input; show theirs beside the current values; ask to save again."""
    fresh = _load(request, incident.number)
    data = request.POST.copy()
    data["edit-version"] = str(current_version)
    kept = _edit_form(fresh, data)
    kept.is_valid()
    differences = []
    for name, mine in values.items():
        theirs = getattr(fresh, name)
        if theirs != mine:
            differences.append(
                {
                    "label": form.fields[name].label,
                    "mine": mine if mine not in (None, "") else "(empty)",
                    "theirs": theirs if theirs not in (None, "") else "(empty)",
                }
            )
    return _respond(
        request, fresh, 409, edit_form=kept, focus="conflict", conflict={"differences": differences}
    )


def _invalid_transition_message(exc: services.InvalidTransition) -> str:
    labels = [INCIDENT_MACHINE.get(n).label for n in exc.allowed] if exc.allowed else []
    state = queues.state_info(exc.state)
    now = state.label if state else exc.state
    allowed = ", ".join(labels) if labels else "nothing"
    name = exc.name.replace("_", " ")
    return f"This incident is {now}, so it can't {name} now. Possible: {allowed}."


@agent_page
@require_POST
def transition(request: HttpRequest, number: str, name: str) -> HttpResponse:
    """Run a state transition: start, hold (reason), resume, resolve (code + notes)..."""
    incident = _load(request, number)
    if name not in {t.name for t in INCIDENT_MACHINE.transitions}:
        raise Http404
    params: dict = {}
    form = None
    form_key = None
    if name == "resolve":
        form = ResolveForm(request.POST, codes=ResolutionCode.objects.filter(active=True))
        form_key = "resolve_form"
    elif name == "hold":
        form, form_key = HoldForm(request.POST), "hold_form"
    elif name in ("cancel", "reopen"):
        form, form_key = ReasonForm(request.POST), "reason_form"
    overrides = {form_key: form, "open_panel": name, "focus": f"{name}-errors"} if form else {}
    if form is not None:
        if not form.is_valid():
            return _respond(request, incident, 400, **overrides)
        params = dict(form.cleaned_data)
        if name == "resolve":
            params = {"code": params["resolution_code"], "notes": params["resolution_notes"]}
    try:
        services.transition(incident, name, by=request.user, channel=Channel.UI, **params)
    except services.InvalidTransition as exc:
        messages.error(request, _invalid_transition_message(exc))
        return _respond(request, incident, 409, focus="messages")
    except services.TicketValidationError as exc:
        if form is not None:
            form.apply_errors(exc.fields, {"code": "resolution_code", "notes": "resolution_notes"})
            return _respond(request, incident, 400, **overrides)
        messages.error(request, " ".join(m for ms in exc.fields.values() for m in ms))
        return _respond(request, incident, 400)
    except Forbidden as exc:
        return _forbidden(request, incident, exc)
    label = INCIDENT_MACHINE.state(incident.state).label
    messages.success(request, f"{incident.number} is now {label}.")
    return _respond(request, incident)


@agent_page
@require_POST
def comment(request: HttpRequest, number: str) -> HttpResponse:
    """Post a work note or public comment; the composer returns to work note."""
    incident = _load(request, number)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _respond(request, incident, 400, comment_form=form, focus="composer-errors")
    kind = form.cleaned_data["kind"]
    seen = form.cleaned_data.get("seen")
    if seen is not None:
        names, newest = _activity_since(incident, seen, request.user)
        if names:
            # Held back once: the form comes back with the user's text and the newest
            # entry as "seen", so posting again sends it.
            data = request.POST.copy()
            data["seen"] = str(newest)
            form = CommentForm(data)
            form.is_valid()
            form.add_error(
                None,
                f"New activity while you were writing, by {', '.join(names)}. Read it in the "
                "timeline; your text is kept. Post again to send it.",
            )
            return _respond(request, incident, 409, comment_form=form, focus="composer-errors")
    if kind == JournalKind.COMMENT and not form.cleaned_data.get("confirm_public"):
        named = [u.name for u in mentioned_agents(form.cleaned_data["body"]) if u != request.user]
        if named:
            form.show_public_confirm = True
            form.add_error(
                None,
                f"You mention {', '.join(named)} in a public comment, so the caller will see "
                "it. Make it an internal work note, or tick the box below and post again.",
            )
            return _respond(request, incident, 409, comment_form=form, focus="composer-errors")
    try:
        core.add_journal_entry(
            incident, by=request.user, kind=kind, body=form.cleaned_data["body"], channel=Channel.UI
        )
    except core.TicketValidationError as exc:
        form.apply_errors(exc.fields)
        return _respond(request, incident, 400, comment_form=form, focus="composer-errors")
    except Forbidden as exc:
        return _forbidden(request, incident, exc, comment_form=form)
    what = "Public comment" if kind == JournalKind.COMMENT else "Internal work note"
    draft_sent(request, f"comment:{incident.number}")
    messages.success(request, f"{what} added.")
    return _respond(request, incident, focus="id_body")


@agent_page
@require_POST
def assign(request: HttpRequest, number: str) -> HttpResponse:
    """Set group and/or assignee; moving a colleague's incident needs a manager."""
    incident = _load(request, number)
    form = AssignForm(request.POST)
    if not form.is_valid():
        return _respond(request, incident, 400, assign_form=form, focus="assign-errors")
    try:
        services.assign(
            incident,
            by=request.user,
            channel=Channel.UI,
            assignment_group=form.cleaned_data.get("assignment_group"),
            assignee=form.cleaned_data.get("assignee"),
        )
    except services.TicketValidationError as exc:
        form.apply_errors(exc.fields)
        return _respond(request, incident, 400, assign_form=form, focus="assign-errors")
    except Forbidden as exc:
        return _forbidden(request, incident, exc, assign_form=form)
    messages.success(request, "Assignment saved.")
    return _respond(request, incident)


@agent_page
@require_POST
def attach(request: HttpRequest, number: str) -> HttpResponse:
    incident = _load(request, number)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            attachment = core.add_attachment(
                incident, by=request.user, upload=form.cleaned_data["file"], channel=Channel.UI
            )
        except (core.TicketValidationError, core.AttachmentTooLarge) as exc:
            fields = getattr(exc, "fields", None) or {"file": [str(exc)]}
            form.apply_errors(fields)
        except Forbidden as exc:
            return _forbidden(request, incident, exc)
        else:
            messages.success(request, f"Attached {attachment.filename}.")
            return _respond(request, incident)
    return _respond(request, incident, 400, attach_form=form, focus="attach-errors")


@agent_page
@require_POST
def watch(request: HttpRequest, number: str) -> HttpResponse:
    """Add or remove me, or (agents) add or remove another user as a watcher."""
    incident = _load(request, number)
    action = request.POST.get("action", "")
    try:
        if action == "add_me":
            core.add_watcher(incident, by=request.user)
            messages.success(request, "You are watching this incident.")
        elif action == "remove_me":
            core.remove_watcher(incident, by=request.user)
            messages.success(request, "You stopped watching this incident.")
        elif action == "add":
            form = WatcherForm(request.POST)
            if not form.is_valid():
                return _respond(request, incident, 400, watcher_form=form, focus="watch-errors")
            target = form.cleaned_data["username"]
            core.add_watcher(incident, by=request.user, user=target)
            messages.success(request, f"{target.name} is watching this incident.")
        elif action == "remove":
            user_id = parse_int(request.POST.get("user", ""))
            watcher = (
                Watcher.objects.filter(ticket_id=incident.pk, user_id=user_id)
                .select_related("user")
                .first()
                if user_id is not None
                else None
            )
            if watcher is None:
                messages.error(request, "That person is not watching this incident.")
                return _respond(request, incident, 400)
            core.remove_watcher(incident, by=request.user, user=watcher.user)
            messages.success(request, f"{watcher.user.name} no longer watches this incident.")
        else:
            messages.error(request, "Unknown watcher action.")
            return _respond(request, incident, 400)
    except Forbidden as exc:
        return _forbidden(request, incident, exc)
    return _respond(request, incident)


def _find_ticket(user, raw: str):
    raw = raw.strip()
    number = parse_number(raw, PREFIX) or raw.lstrip("#").upper()
    return visible_tickets(user, Ticket.objects.filter(number=number)).first()


@agent_page
@require_POST
def link(request: HttpRequest, number: str) -> HttpResponse:
    """Link by number: parent, child, related, duplicate of, caused by."""
    incident = _load(request, number)
    form = LinkForm(request.POST)
    target = None
    if form.is_valid():
        target = _find_ticket(request.user, form.cleaned_data["number"])
        if target is None:
            form.add_error("number", f"No ticket {form.cleaned_data['number']} was found.")
    if target is None:
        return _respond(request, incident, 400, link_form=form, focus="link-errors")
    kind = form.cleaned_data["kind"]
    try:
        if kind == "parent":
            services.update_incident(incident, by=request.user, channel=Channel.UI, parent=target)
        elif kind == "child":
            child = Incident.objects.filter(pk=target.pk).first()
            if child is None:
                form.add_error("number", "Only incidents can be child incidents.")
                return _respond(request, incident, 400, link_form=form, focus="link-errors")
            services.update_incident(child, by=request.user, channel=Channel.UI, parent=incident)
        else:
            core.link_tickets(incident, target, by=request.user, kind=kind, channel=Channel.UI)
    except core.TicketValidationError as exc:
        form.apply_errors(exc.fields, {"parent": "number", "target": "number"})
        return _respond(request, incident, 400, link_form=form, focus="link-errors")
    except Forbidden as exc:
        return _forbidden(request, incident, exc, link_form=form)
    messages.success(request, f"Linked {target.number}.")
    return _respond(request, incident)


@agent_page
@require_POST
def presence(request: HttpRequest, number: str) -> HttpResponse:
    """The page's 10 s report: who else has this incident open (typing?), and whether it
    changed since the page showed ``version``. 204 when nothing the agent sees changed,
    so the status region is not re-announced every 10 s; it never touches the composer.
    """
    ticket = Incident.objects.filter(number=number.upper()).only("id", "number", "version").first()
    if ticket is None:
        raise Http404
    form = PresenceForm(request.POST)
    form.is_valid()  # a bad value is treated as absent
    others = core.note_presence(ticket, by=request.user, typing=form.cleaned_data.get("typing"))
    now = timezone.now()
    viewers = [{"name": p.user.name, "typing": core.is_typing(p, now)} for p in others]
    shown_version = form.cleaned_data.get("version")
    updated = None
    if shown_version is not None and ticket.version > shown_version:
        updated = _last_change(ticket, request.user)
    signature = "|".join(f"{v['name']}:{int(v['typing'])}" for v in viewers)
    if updated:
        signature += f"|updated:{ticket.version}"
    if signature == (form.cleaned_data.get("shown") or ""):
        return HttpResponse(status=204)
    return render(
        request,
        "incidents/_presence.html",
        {
            "incident": ticket,
            "viewers": viewers,
            "updated": updated,
            "signature": signature,
            "shown_version": shown_version,
        },
    )


def _last_change(ticket: Incident, me: User) -> dict | None:
    """Who changed the ticket last (an entry or a field change), if not ``me``."""
    audit = AuditEntry.objects.filter(ticket_id=ticket.pk).select_related("actor")
    entry = JournalEntry.objects.filter(ticket_id=ticket.pk).select_related("author")
    candidates = [(a.created_at, a.actor) for a in audit.order_by("-id")[:1]] + [
        (e.created_at, e.author) for e in entry.order_by("-id")[:1]
    ]
    if not candidates:
        return None
    at, who = max(candidates, key=lambda c: c[0])
    if who is not None and who.pk == me.pk:
        return None
    return {"at": at, "name": who.name if who else "Mainspring"}


@agent_page
@require_GET
def mention_suggestions(request: HttpRequest) -> JsonResponse:
    """Agents whose username or name starts with ``q`` (for ``@`` in the composer)."""
    q = (request.GET.get("q") or "").strip().lstrip("@")[:50]
    if not q:
        return JsonResponse({"results": []})
    match = (
        Q(username__istartswith=q)
        | Q(display_name__istartswith=q)
        | Q(first_name__istartswith=q)
        | Q(last_name__istartswith=q)
    )
    people = agents_queryset().filter(match).order_by("username")[:8]
    return JsonResponse({"results": [{"username": u.username, "name": u.name} for u in people]})
