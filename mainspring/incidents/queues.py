"""Queries behind the agent queue: allowlisted filters, keyset pages, capped counts.

Every list here stays index-backed at a million tickets: the first page is a range scan
on one of ``Ticket.Meta.indexes`` ordered by ``-id`` with a LIMIT, pages continue from a
pivot row (no OFFSET), and sidebar counts stop at ``COUNT_CAP``.
"""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Q
from django.http import HttpRequest, QueryDict
from django.utils import timezone

from mainspring.core.models import SavedView, Ticket
from mainspring.core.numbering import parse_number
from mainspring.core.parsing import parse_int
from mainspring.identity.policy import visible_tickets
from mainspring.knowledge.search import tickets_matching
from mainspring.sla.models import SlaTimer
from mainspring.sla.templatetags.sla_tags import describe as describe_timer

from .forms import (
    ASCENDING_ONLY,
    DEFAULT_SORT,
    SORTS,
    QueueFilterForm,
    canonical_query,
    priority_label,
)
from .models import KIND, PREFIX
from .states import INCIDENT_MACHINE

PAGE_SIZE = 25
COUNT_CAP = 1000  # sidebar counts stop here and show "999+"
MAX_SIDEBAR_VIEWS = 20


# --- SLA ------------------------------------------------------------------------------
# Each row shows its soonest running timer. Filters and the "breaches soonest" sort read
# ``Ticket.sla_breach_at`` / ``sla_at_risk_at``, which the sla app keeps equal to the
# soonest running timer's deadline: one index range, not a subquery per ticket (which
# measured 155 ms to filter and 880 ms to sort at 1M tickets).


def attach_sla(rows: list) -> None:
    """Set ``row.sla`` to the soonest running timer's display dict: one query per page."""
    if not rows:
        return
    by_ticket: dict[int, SlaTimer] = {}
    # Only what the cell shows: the thresholds and pause states snapshots are most of a
    # timer row and nothing here reads them.
    timers = (
        SlaTimer.objects.filter(
            ticket_id__in=[r.pk for r in rows], stopped_at__isnull=True, breach_at__isnull=False
        )
        .only(
            "ticket_id",
            "state",
            "duration_seconds",
            "banked_us",
            "running_since",
            "calendar_config",
            "breach_at",
        )
        .order_by("breach_at", "id")
    )
    for timer in timers:
        by_ticket.setdefault(timer.ticket_id, timer)
    now = timezone.now()
    for row in rows:
        timer = by_ticket.get(row.pk)
        row.sla = describe_timer(timer, now) if timer else None


def state_info(value: str):
    try:
        return INCIDENT_MACHINE.state(value)
    except KeyError:
        return None


def decorate(ticket) -> None:
    """Attach display helpers (state label/colour, priority text) without queries."""
    state = state_info(ticket.state)
    ticket.state_label = state.label if state else ticket.state
    ticket.state_colour = state.colour if state else "grey"
    ticket.priority_text = priority_label(ticket.priority)


# --- Queue ---------------------------------------------------------------------------


def filtered(user, filters: dict, my_group_ids: list[int]):
    """Tickets matching ``filters`` (already allowlisted by QueueFilterForm)."""
    qs = visible_tickets(user, Ticket.objects.filter(kind=KIND))
    if filters.get("is_open") == "1":
        qs = qs.filter(is_open=True)
    elif filters.get("is_open") == "0":
        qs = qs.filter(is_open=False)
    if filters.get("state"):
        qs = qs.filter(state=filters["state"])
    if filters.get("priority"):
        qs = qs.filter(priority=filters["priority"])
    group = filters.get("group")
    if group == "mine":
        qs = qs.filter(assignment_group_id__in=my_group_ids)
    elif group:
        qs = qs.filter(assignment_group_id=int(group))
    assignee = filters.get("assignee")
    if assignee == "me":
        qs = qs.filter(assignee_id=user.pk)
    elif assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif assignee:
        qs = qs.filter(assignee_id=int(assignee))
    sla = filters.get("sla")
    if sla:
        now = timezone.now()
        if sla == "breached":
            qs = qs.filter(sla_breach_at__lte=now)
        elif sla == "at_risk":
            qs = qs.filter(sla_at_risk_at__lte=now, sla_breach_at__gt=now)
    text = filters.get("q")
    if text:
        number = parse_number(text, PREFIX)
        qs = qs.filter(number=number) if number else tickets_matching(qs, text)
    return qs


def capped_counts(querysets: list) -> list[int]:
    """How many rows each queryset has, up to ``COUNT_CAP``, in one statement.

    Each count reads a LIMITed subquery, so at most ``COUNT_CAP`` index entries.

    The sidebar shows six built-in counts and up to twenty saved views; each is a
    bounded index range, so the cost was the statements, not the counting.
    """
    parts, params, empty = [], [], set()
    for i, qs in enumerate(querysets):
        try:
            sql, p = qs.order_by().values("id")[:COUNT_CAP].query.sql_with_params()
        except EmptyResultSet:
            empty.add(i)
            continue
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS c{i})")  # noqa: S608 - ORM-built
        params.extend(p)
    counts: list[int] = []
    if parts:
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(parts), params)
            counts = list(cursor.fetchone())
    found = iter(counts)
    return [0 if i in empty else int(next(found)) for i in range(len(querysets))]


def int_param(request: HttpRequest, name: str) -> int | None:
    return parse_int(request.GET.get(name, ""))


def keyset(col: str, desc: bool, pivot: dict, forward: bool) -> Q:
    """Rows after (``forward``) or before the pivot in (col, -id) order."""
    pid = pivot["id"]
    if col == "id":
        older = (desc and forward) or (not desc and not forward)
        return Q(id__lt=pid) if older else Q(id__gt=pid)
    value = pivot[col]
    beyond = "lt" if desc == forward else "gt"
    tie = "lt" if forward else "gt"
    return Q(**{f"{col}__{beyond}": value}) | Q(**{col: value, f"id__{tie}": pid})


def _fetch(qs, order: list, limit: int) -> list:
    return list(
        qs.select_related("requester", "assignee", "assignment_group").order_by(*order)[:limit]
    )


def _deadline_rows(qs, pivot: dict | None, forward: bool, limit: int) -> list:
    """Rows in "breaches soonest" order (deadline, then newest; no deadline last).

    Two index ranges rather than one ``NULLS LAST`` sort, which neither database can
    serve from an index together with a keyset: tickets with a deadline (the partial
    deadline index), then, once those run out, the rest newest first.
    """
    col = "sla_breach_at"
    timed = qs.filter(sla_breach_at__isnull=False)
    untimed = qs.filter(sla_breach_at__isnull=True)
    value = pivot[col] if pivot else None
    if forward:
        if pivot is None or value is not None:
            if pivot is not None:
                timed = timed.filter(
                    Q(sla_breach_at__gt=value) | Q(sla_breach_at=value, id__lt=pivot["id"])
                )
            rows = _fetch(timed, [col, "-id"], limit)
            if len(rows) < limit:
                rows += _fetch(untimed, ["-id"], limit - len(rows))
            return rows
        return _fetch(untimed.filter(id__lt=pivot["id"]), ["-id"], limit)
    # Backwards: nearest first; the caller reverses.
    if value is None:
        rows = _fetch(untimed.filter(id__gt=pivot["id"]), ["id"], limit)
        if len(rows) < limit:
            rows += _fetch(timed, [f"-{col}", "id"], limit - len(rows))
        return rows
    return _fetch(
        timed.filter(Q(sla_breach_at__lt=value) | Q(sla_breach_at=value, id__gt=pivot["id"])),
        [f"-{col}", "id"],
        limit,
    )


def page(qs, sort: str, after: int | None, before: int | None):
    """One page in ``sort`` order, keyset-paginated by id: no OFFSET, no total count."""
    desc = sort.startswith("-")
    col = SORTS[sort.lstrip("-")]
    order = [sort.replace(sort.lstrip("-"), col)] + ([] if col == "id" else ["-id"])
    pivot_id = after or before
    forward = before is None
    pivot = None
    if pivot_id:
        pivot = Ticket.objects.filter(pk=pivot_id).values("id", col).first()
        if pivot is None:
            after = before = None
            forward = True
        elif col != "sla_breach_at":
            qs = qs.filter(keyset(col, desc, pivot, forward))
    if not forward:
        order = [o[1:] if o.startswith("-") else f"-{o}" for o in order]
    if col == "sla_breach_at":
        rows = _deadline_rows(qs, pivot, forward, PAGE_SIZE + 1)
    else:
        rows = _fetch(qs, order, PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    if not forward:
        rows.reverse()
        has_older, has_newer = True, more
    else:
        has_older, has_newer = more, after is not None
    for row in rows:
        decorate(row)
    attach_sla(rows)
    return rows, has_older and bool(rows), has_newer and bool(rows)


def sort_links(base_query: str, sort: str) -> list[dict]:
    """Header links: clicking the sorted column flips it; aria-sort on the sorted one."""
    out = []
    for key in SORTS:
        current = sort.lstrip("-") == key
        desc = sort.startswith("-")
        if key in ASCENDING_ONLY:
            target = key
        elif current:
            target = key if desc else f"-{key}"
        else:
            target = key if key == "priority" else f"-{key}"
        sort_param = f"sort={target}" if target != DEFAULT_SORT else ""
        query = "&".join(p for p in (base_query, sort_param) if p)
        out.append(
            {
                "key": key,
                "href": f"?{query}" if query else "?",
                "aria_sort": ("descending" if desc else "ascending") if current else None,
            }
        )
    return out


def sidebar(user, my_group_ids: list[int], current_query: str, groups, agents):
    unassigned = {"group": "mine", "assignee": "none"} if my_group_ids else {"assignee": "none"}
    builtin = [
        ("My work", {"assignee": "me"}),
        ("My groups' work", {"group": "mine"}),
        ("Unassigned", unassigned),
        ("All open", {}),
        ("SLA breached", {"sla": "breached"}),
        ("SLA at risk", {"sla": "at_risk", "sort": "sla"}),
    ]
    items, querysets = [], []
    for label, filters in builtin:
        filters = {"is_open": "1", **filters}
        sort = filters.pop("sort", DEFAULT_SORT)
        query = canonical_query(filters, sort)
        querysets.append(filtered(user, filters, my_group_ids))
        items.append({"label": label, "query": query, "current": query == current_query})
    saved = []
    for view in SavedView.objects.filter(owner=user)[:MAX_SIDEBAR_VIEWS]:
        form = QueueFilterForm(QueryDict(view.query), groups=groups, agents=agents)
        querysets.append(filtered(user, form.valid_data(), my_group_ids))
        saved.append({"view": view, "query": view.query, "current": view.query == current_query})
    for item, count in zip(items + saved, capped_counts(querysets), strict=True):
        item["count"] = count
    return items, saved
