"""SLA timers: start, pause, stop and reselect on ticket events; escalate when due.

Everything here works on ``core.Ticket`` whatever its kind, driven by ``core.events``
inside the service's transaction, so a timer change commits or rolls back with the
ticket change that caused it. The escalation sweep claims due timers with
``select_for_update(skip_locked=True)`` (PostgreSQL) and records each fired threshold
in ``SlaEscalation`` (unique per timer and percent) in the same transaction as its
actions: each threshold fires exactly once, even with concurrent or crashed sweeps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from mainspring.core import registry
from mainspring.core import services as core
from mainspring.core.actors import system_user
from mainspring.core.events import TicketEvent, before_create
from mainspring.core.models import Channel, JournalKind, Ticket
from mainspring.core.reference_cache import ReferenceCache
from mainspring.core.registry import phase_of
from mainspring.core.states import Phase
from mainspring.identity.models import AssignmentGroup, Membership
from mainspring.identity.policy import require_configure

from .calendar import _from_us, _to_us, add_business_us, between_us, spec_for
from .models import (
    ACTIVE_STATES,
    BusinessCalendar,
    CalendarDay,
    SlaDefinition,
    SlaEscalation,
    SlaTimer,
    Target,
    TimerState,
)

__all__ = [
    "elapsed_seconds",
    "handle_event",
    "matches",
    "new_timer",
    "prepare_new_ticket",
    "remaining_seconds",
    "start_timer",
    "sweep",
]

log = logging.getLogger(__name__)
_US = 1_000_000
# Ticket fields SLA conditions look at; a change to one reselects the ticket's SLAs.
LOOKED_AT = frozenset(
    {"kind", "priority", "category", "subcategory", "assignment_group", "requester"}
)
# A running clock is "at risk" in its last quarter (the queue filter and the amber colour).
AT_RISK_PERCENT = 75


# -- the clock -------------------------------------------------------------------------
def elapsed_us(timer: SlaTimer, now: datetime | None = None) -> int:
    if timer.running_since is None:
        return timer.banked_us
    now = now or timezone.now()
    spec = spec_for(timer.calendar_config)
    return timer.banked_us + between_us(spec, _to_us(timer.running_since), _to_us(now))


def elapsed_seconds(timer: SlaTimer, now: datetime | None = None) -> int:
    """Business seconds the clock has run so far."""
    return elapsed_us(timer, now) // _US


def remaining_seconds(timer: SlaTimer, now: datetime | None = None) -> int:
    """Business seconds left to the target; negative once breached."""
    return timer.duration_seconds - (elapsed_us(timer, now) + _US - 1) // _US


def _spent(timer: SlaTimer) -> bool:
    """Whether the banked time has used up the budget (reaching it exactly is a breach)."""
    return timer.banked_us >= timer.duration_seconds * _US


def _bank(timer: SlaTimer, now: datetime) -> None:
    """Stop the clock at ``now``, adding the business time since it last ran.

    If the budget ran out while it ran, the breach is recorded here, at the instant it
    ran out, whether or not the sweep has noticed yet: a pause, a stop or a recompute
    after that instant must not move the breach to when the clock runs again.
    """
    if timer.running_since is None:
        return
    spec = spec_for(timer.calendar_config)
    start = _to_us(timer.running_since)
    before = timer.banked_us
    timer.banked_us = before + between_us(spec, start, _to_us(now))
    timer.running_since = None
    if timer.breached_at is None and _spent(timer):
        left = max(timer.duration_seconds * _US - before, 0)
        _breach(timer, _from_us(add_business_us(spec, start, left)))


def _breach(timer: SlaTimer, at: datetime) -> None:
    """Record that the budget ran out at ``at`` (once; the first record stands)."""
    if timer.breached_at is None:
        timer.breached_at = at
        if timer.state != TimerState.CANCELLED:
            timer.state = TimerState.BREACHED


def _threshold_us(timer: SlaTimer, percent: int) -> int:
    return -(-percent * timer.duration_seconds * _US // 100)


def _schedule(timer: SlaTimer) -> None:
    """Recompute ``breach_at`` and ``next_threshold_at`` from the clock."""
    if timer.running_since is None or timer.stopped_at is not None:
        if timer.stopped_at is None:  # paused: no deadline until it runs again
            timer.breach_at = timer.breached_at
        timer.at_risk_at = timer.breached_at if timer.stopped_at is None else None
        timer.next_threshold_at = None
        return
    try:
        _schedule_running(timer)
    except ValueError:
        # No deadline within ten years on a sparse calendar: nothing to sweep for.
        timer.breach_at = timer.at_risk_at = timer.breached_at
        timer.next_threshold_at = None


def _schedule_running(timer: SlaTimer) -> None:
    spec = spec_for(timer.calendar_config)
    start = _to_us(timer.running_since)
    due = []
    if timer.breached_at is not None:
        timer.breach_at = timer.at_risk_at = timer.breached_at
    else:
        left = max(timer.duration_seconds * _US - timer.banked_us, 0)
        timer.breach_at = _from_us(add_business_us(spec, start, left))
        risk = max(_threshold_us(timer, AT_RISK_PERCENT) - timer.banked_us, 0)
        timer.at_risk_at = _from_us(add_business_us(spec, start, risk))
        # The sweep records the breach at its instant even with no 100 % threshold.
        due.append(timer.breach_at)
    if timer.next_percent is not None:
        need = max(_threshold_us(timer, timer.next_percent) - timer.banked_us, 0)
        due.append(_from_us(add_business_us(spec, start, need)))
    # The next moment the sweep has work: the next threshold, or the breach to record.
    timer.next_threshold_at = min(due, default=None)


def _percents(timer: SlaTimer) -> list[int]:
    return sorted(t["percent"] for t in timer.thresholds)


def _run(timer: SlaTimer, now: datetime) -> None:
    timer.running_since = now
    timer.state = TimerState.BREACHED if timer.breached_at else TimerState.IN_PROGRESS
    _schedule(timer)


def _pause(timer: SlaTimer, now: datetime) -> None:
    _bank(timer, now)
    if timer.breached_at is None:
        timer.state = TimerState.PAUSED
    _schedule(timer)


def _stop(timer: SlaTimer, now: datetime, *, cancel: bool = False) -> None:
    _bank(timer, now)
    timer.stopped_at = now
    timer.next_threshold_at = None
    if cancel:
        timer.state = TimerState.CANCELLED
    elif timer.breached_at is not None:
        timer.state = TimerState.BREACHED
    elif _spent(timer):
        # Spent but not recorded: only a timer held before breaches were recorded at the
        # hold (migration 0005 found no hold in its audit trail). When it ran out is not
        # known; it is recorded now, when it is noticed.
        _breach(timer, now)
    else:
        timer.state = TimerState.MET


# -- selection -------------------------------------------------------------------------
def _category_ids(ticket: Ticket) -> set[int]:
    """Category and subcategory from the practice's row (``ticket.<kind>``), if it has them."""
    if type(ticket) is not Ticket:
        row = ticket  # already the practice's row (e.g. an Incident)
    else:
        try:
            row = getattr(ticket, ticket.kind, None)
        except ObjectDoesNotExist:
            row = None
        row = row if row is not None else ticket
    return {
        v for v in (getattr(row, "category_id", None), getattr(row, "subcategory_id", None)) if v
    }


def matches(definition: SlaDefinition, ticket: Ticket, requester_groups: set[int]) -> bool:
    """Whether ``definition``'s conditions select ``ticket`` (an empty list matches all)."""
    d = definition
    if d.kinds and ticket.kind not in d.kinds:
        return False
    if d.priorities and ticket.priority not in d.priorities:
        return False
    if d.category_ids and not (_category_ids(ticket) & set(d.category_ids)):
        return False
    if d.assignment_group_ids and ticket.assignment_group_id not in d.assignment_group_ids:
        return False
    if d.requester_group_ids and not (requester_groups & set(d.requester_group_ids)):
        return False
    return True


def _load_active_definitions() -> list[SlaDefinition]:
    return list(SlaDefinition.objects.filter(active=True).select_related("calendar"))


# Every create selects SLAs from these. A calendar's change moves its ``updated_at``
# (which keys calendar_config), so its days and the calendar drop the copy too.
ACTIVE_DEFINITIONS = ReferenceCache(
    "sla-definitions",
    _load_active_definitions,
    (SlaDefinition, BusinessCalendar, CalendarDay),
)


def _matching(ticket: Ticket) -> list[SlaDefinition]:
    definitions = ACTIVE_DEFINITIONS.get()
    groups: set[int] = set()
    if any(d.requester_group_ids for d in definitions):
        groups = set(
            Membership.objects.filter(user_id=ticket.requester_id).values_list(
                "group_id", flat=True
            )
        )
    return [d for d in definitions if matches(d, ticket, groups)]


_CONFIGS: dict[tuple[int, datetime], dict] = {}


def calendar_config(calendar) -> dict:
    """``calendar.as_config()``, cached per process by (id, updated_at).

    Every change to a calendar or to one of its days moves ``updated_at`` (a day's save
    or delete touches its calendar, see ``models.CalendarDay``), so a cached snapshot is
    never stale; it saves a query per timer started.
    """
    key = (calendar.pk, calendar.updated_at)
    config = _CONFIGS.get(key)
    if config is None:
        if len(_CONFIGS) > 256:
            _CONFIGS.clear()
        config = _CONFIGS[key] = calendar.as_config()
    return config


def new_timer(ticket: Ticket, definition: SlaDefinition, now: datetime) -> SlaTimer:
    """``definition`` started on ``ticket`` at ``now``, scheduled but not saved.

    The timer snapshots the definition and its calendar, so later edits to either do
    not move a running clock (see recompute for that).
    """
    percents = sorted(t["percent"] for t in definition.thresholds)
    timer = SlaTimer(
        definition=definition,
        name=definition.name,
        target=definition.target,
        duration_seconds=definition.duration_seconds,
        calendar_config=calendar_config(definition.calendar),
        pause_states=list(definition.pause_states),
        reopen=definition.reopen,
        thresholds=list(definition.thresholds),
        started_at=now,
        next_percent=percents[0] if percents else None,
        state=TimerState.IN_PROGRESS,
        priority=ticket.priority,
        assignment_group_id=ticket.assignment_group_id,
    )
    if ticket.pk is not None:
        timer.ticket = ticket
    if ticket.state in timer.pause_states:
        timer.state = TimerState.PAUSED
        _schedule(timer)
    else:
        _run(timer, now)
    return timer


def start_timer(ticket: Ticket, definition: SlaDefinition, now: datetime) -> SlaTimer:
    """Start ``definition`` on ``ticket`` (saved) with a snapshot of the definition and calendar."""
    timer = new_timer(ticket, definition, now)
    timer.save()
    return timer


# The attribute a new ticket carries from ``prepare_new_ticket`` to its "created" event.
_PREPARED = "_sla_new_timers"


@before_create
def prepare_new_ticket(ticket: Ticket) -> None:
    """Select and schedule a new ticket's timers before its insert (core.events).

    The ticket row gets its ``sla_breach_at``/``sla_at_risk_at`` in the INSERT itself,
    not in a second UPDATE that would touch every index of the ticket table; the
    "created" event then inserts the timers, all in one statement.
    """
    timers = _new_timers(ticket, timezone.now())
    ticket.sla_breach_at, ticket.sla_at_risk_at = _soonest_deadlines(timers)
    setattr(ticket, _PREPARED, timers)


def _new_timers(ticket: Ticket, now: datetime) -> list[SlaTimer]:
    # A ticket recorded already closed (an import, say) starts no clock.
    return [new_timer(ticket, d, now) for d in _matching(ticket)] if ticket.is_open else []


def _start_prepared(ticket: Ticket, now: datetime) -> list[SlaTimer]:
    """The "created" event: insert the timers chosen before the ticket's insert."""
    timers = ticket.__dict__.pop(_PREPARED, None)
    if timers is None:  # a service that did not call prepare_new_ticket
        timers = _new_timers(ticket, now)
    for timer in timers:
        timer.ticket = ticket
    if timers:
        SlaTimer.objects.bulk_create(timers)
    return timers


def _audit(ticket: Ticket, timer: SlaTimer, old: str, new: str, event: TicketEvent) -> None:
    core.write_audit(
        ticket,
        # The audit field holds 50 characters; an SLA name may have 100.
        {f"sla:{timer.name}"[:50]: (old, new)},
        by=SimpleNamespace(pk=event.actor_id),
        channel=event.channel,
    )


def handle_event(event: TicketEvent, now: datetime | None = None) -> None:
    """Bring the ticket's timers in line with what just happened to it."""
    now = now or timezone.now()
    ticket = event.ticket if isinstance(event.ticket, Ticket) else None
    if ticket is None:
        ticket = Ticket.objects.filter(pk=event.ticket_id).first()
    if ticket is None:
        return
    if event.name == "created":
        # A ticket has no timers before this; its new ones were chosen before its insert.
        timers = _start_prepared(ticket, now)
        refresh_ticket_deadlines(ticket, timers)
        return
    timers = list(SlaTimer.objects.filter(ticket=ticket).order_by("started_at", "id"))
    active = [t for t in timers if t.state in ACTIVE_STATES and t.stopped_at is None]
    dirty: dict[int, SlaTimer] = {}

    if not ticket.is_open:
        for timer in active:
            _stop(timer, now, cancel=phase_of(ticket.kind, ticket.state) == Phase.CANCELLED)
            dirty[timer.pk] = timer
        _save(dirty.values(), ticket)
        refresh_ticket_deadlines(ticket, timers)
        return

    changed = set(event.changes)
    reopened = event.name == "state_changed" and event.changes.get("is_open", (True, True)) == (
        False,
        True,
    )
    restart: set[int] = set()
    if reopened:
        latest: dict[int, SlaTimer] = {}
        for timer in timers:
            latest[timer.definition_id] = timer
        for timer in latest.values():
            if timer.target != Target.RESOLUTION or timer.state == TimerState.CANCELLED:
                continue
            if timer.stopped_at is None:
                continue
            if timer.reopen == "restart":
                restart.add(timer.definition_id)
                continue
            timer.stopped_at = None
            if timer.state == TimerState.MET:
                timer.state = TimerState.IN_PROGRESS
            _run(timer, now)
            active.append(timer)
            dirty[timer.pk] = timer

    if ticket.responded_at is not None:
        for timer in active:
            if timer.target == Target.RESPONSE and timer.stopped_at is None:
                _stop(timer, now)
                dirty[timer.pk] = timer
        active = [t for t in active if t.stopped_at is None]

    if changed & LOOKED_AT or reopened:
        wanted = {d.pk: d for d in _matching(ticket)}
        for timer in active:
            if timer.definition_id not in wanted:
                old = timer.state
                _stop(timer, now, cancel=True)
                dirty[timer.pk] = timer
                _audit(ticket, timer, old, TimerState.CANCELLED, event)
        active = [t for t in active if t.stopped_at is None]
        running = {t.definition_id for t in active}
        finished = {
            t.definition_id
            for t in timers
            if t.state in (TimerState.MET, TimerState.BREACHED) and t.stopped_at is not None
        } - restart
        for definition in wanted.values():
            if definition.pk in running or definition.pk in finished:
                continue
            if definition.target == Target.RESPONSE and ticket.responded_at is not None:
                continue
            timer = start_timer(ticket, definition, now)
            timers.append(timer)
            _audit(ticket, timer, "", timer.state, event)

    for timer in active:
        if timer.stopped_at is not None:
            continue
        should_pause = ticket.state in timer.pause_states
        if should_pause and timer.running_since is not None:
            _pause(timer, now)
            dirty[timer.pk] = timer
        elif not should_pause and timer.running_since is None:
            _run(timer, now)
            dirty[timer.pk] = timer
    _save(dirty.values(), ticket)
    refresh_ticket_deadlines(ticket, timers)


_FIELDS = [
    "state",
    "running_since",
    "banked_us",
    "breach_at",
    "at_risk_at",
    "next_percent",
    "next_threshold_at",
    "breached_at",
    "stopped_at",
    "priority",
    "assignment_group",
]


def _save(timers: Iterable[SlaTimer], ticket: Ticket | None = None) -> None:
    timers = list(timers)
    if ticket is not None:
        for timer in timers:
            timer.priority = ticket.priority
            timer.assignment_group_id = ticket.assignment_group_id
    if timers:
        SlaTimer.objects.bulk_update(timers, _FIELDS)


def _soonest_deadlines(timers: Iterable[SlaTimer]) -> tuple[datetime | None, datetime | None]:
    """The soonest running deadline and at-risk time among ``timers``."""
    running = [
        t
        for t in timers
        if t.stopped_at is None and t.state != TimerState.CANCELLED and t.breach_at is not None
    ]
    breach_at = min((t.breach_at for t in running), default=None)
    at_risk_at = min((t.at_risk_at for t in running if t.at_risk_at), default=None)
    return breach_at, at_risk_at


def refresh_ticket_deadlines(ticket: Ticket, timers: Iterable[SlaTimer] | None = None) -> None:
    """Copy the soonest running deadline and at-risk time onto the ticket row.

    ``timers`` are all the ticket's timers as just saved (read from the database if not
    given). The update bypasses ``version``: it is derived data, not a user's edit.
    """
    if timers is None:
        timers = SlaTimer.objects.filter(ticket_id=ticket.pk, stopped_at__isnull=True)
    breach_at, at_risk_at = _soonest_deadlines(timers)
    if (breach_at, at_risk_at) != (ticket.sla_breach_at, ticket.sla_at_risk_at):
        Ticket.objects.filter(pk=ticket.pk).update(
            sla_breach_at=breach_at, sla_at_risk_at=at_risk_at
        )
        ticket.sla_breach_at, ticket.sla_at_risk_at = breach_at, at_risk_at


# -- escalation ------------------------------------------------------------------------
# What firing a threshold changes on a timer: all the sweep writes back.
_SWEEP_FIELDS = [
    "state",
    "breach_at",
    "at_risk_at",
    "next_percent",
    "next_threshold_at",
    "breached_at",
]


def sweep(*, now: datetime | None = None, batch: int = 200, _fire=None) -> int:
    """Fire every due threshold once; returns how many fired.

    Each batch is one transaction: claimed rows (skip-locked on PostgreSQL, so
    concurrent sweeps split the work), their escalation rows and their actions commit
    together. A sweep killed mid-way loses nothing: its batch rolls back and the next
    sweep finds those timers still due. A batch costs about a dozen queries whatever
    its size (``_fire_batch``); ``_fire`` (tests) replaces that with a per-timer call.
    """
    now = now or timezone.now()
    fired = 0
    while True:
        with transaction.atomic():
            qs = SlaTimer.objects.filter(next_threshold_at__lte=now).order_by(
                "next_threshold_at", "id"
            )
            if connection.features.has_select_for_update_skip_locked:
                qs = qs.select_for_update(skip_locked=True, of=("self",))
            timers = list(qs[:batch])
            if _fire is None:
                fired += _fire_batch(timers, now)
            else:
                for timer in timers:
                    fired += _fire(timer, now)
        if len(timers) < batch:
            return fired


def _fire_due(timer: SlaTimer, now: datetime) -> int:
    """Fire one timer's thresholds that are due, in order; then reschedule it."""
    return _fire_batch([timer], now)


# A threshold to fire: the timer, the percent, the threshold's actions, and the timer's
# deadline at that moment (for the mail).
_Firing = tuple[SlaTimer, int, list[dict], datetime | None]


def _fire_batch(timers: list[SlaTimer], now: datetime) -> int:
    """Fire the due thresholds of claimed timers, in order per timer; reschedule them.

    In the caller's transaction, in a fixed number of queries: the escalation rows in
    one insert, then the actions for the whole batch (``_act``), then the timers in one
    update. A (timer, percent) that has its row already (a stale copy of the timer was
    saved over a fired one) is skipped: its actions were committed with that row.
    """
    if not timers:
        return 0
    firings: list[_Firing] = []
    for timer in timers:
        firings.extend(_advance(timer, now))
    firings = _record(firings, now)
    deferred = _act(firings)
    _save_fired(timers)
    # Actions that change the ticket publish events (and may reselect these very
    # timers), so they run after the timers' own state is saved.
    for action, timer in deferred:
        _ticket_action(timer, action)
    return len(firings)


def _advance(timer: SlaTimer, now: datetime) -> list[_Firing]:
    """Bring a running ``timer`` up to ``now`` in memory: record a breach that is due
    and pass the thresholds that are due, in order; returns those thresholds.

    The breach is recorded at the instant the budget ran out (``breach_at``), however
    late the sweep comes, and whatever thresholds there are.
    """
    if timer.running_since is None or timer.stopped_at is not None:
        _schedule(timer)  # a stale row (paused or stopped since): not due again
        return []
    if timer.breached_at is None and timer.breach_at is not None and timer.breach_at <= now:
        _breach(timer, timer.breach_at)
        _schedule(timer)
    by_percent = {t["percent"]: t.get("actions") or [] for t in timer.thresholds}
    percents = _percents(timer)
    firings: list[_Firing] = []
    while (
        timer.next_percent is not None
        and timer.next_threshold_at is not None
        and timer.next_threshold_at <= now
    ):
        percent = timer.next_percent
        firings.append((timer, percent, by_percent.get(percent, []), timer.breach_at))
        later = [p for p in percents if p > percent]
        timer.next_percent = later[0] if later else None
        _schedule(timer)
    return firings


def _record(firings: list[_Firing], now: datetime) -> list[_Firing]:
    """Insert the escalation rows; returns the firings whose row is new (to act on)."""
    if not firings:
        return []

    def row(firing: _Firing) -> SlaEscalation:
        timer, percent, actions, _ = firing
        return SlaEscalation(timer=timer, percent=percent, fired_at=now, actions=actions)

    try:
        with transaction.atomic():
            SlaEscalation.objects.bulk_create([row(f) for f in firings])
        return firings
    except IntegrityError:
        pass
    # Some fired already: one savepoint each, keep those that insert (rare).
    fresh = []
    for firing in firings:
        try:
            with transaction.atomic():
                row(firing).save(force_insert=True)
            fresh.append(firing)
        except IntegrityError:
            pass  # fired already: its actions were committed with that row
    return fresh


def _save_fired(timers: list[SlaTimer]) -> None:
    """Write back what firing changed: one ``UPDATE … FROM unnest`` on PostgreSQL."""
    if not timers:
        return
    if connection.vendor != "postgresql":
        SlaTimer.objects.bulk_update(timers, _SWEEP_FIELDS)
        return
    q = connection.ops.quote_name
    fields = [SlaTimer._meta.get_field(name) for name in _SWEEP_FIELDS]
    pk = SlaTimer._meta.pk
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in [pk, *fields])
    names = ", ".join(q(f.column) for f in [pk, *fields])
    sets = ", ".join(f"{q(f.column)} = v.{q(f.column)}" for f in fields)
    table = q(SlaTimer._meta.db_table)
    params = [[t.pk for t in timers]]
    params += [[getattr(t, f.attname) for t in timers] for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {sets} FROM unnest({arrays}) AS v({names}) "  # noqa: S608 - model names
            f"WHERE {table}.{q(pk.column)} = v.{q(pk.column)}",
            params,
        )


def _act(firings: list[_Firing]) -> list[tuple[dict, SlaTimer]]:
    """Run the actions of fired thresholds: notices and work notes, a few queries in all.

    The tickets, their assignees and groups, the groups' managers and the groups named
    by actions are loaded once for the batch; notices go out through
    ``queue_sla_notices`` and work notes in one insert (``core.add_system_entries``).
    Ticket-changing actions (raise priority, reassign) are returned, to run once the
    timers are saved.
    """
    from mainspring.notifications.services import SlaNotice, queue_sla_notices

    if not firings:
        return []
    kinds = {a.get("type") for _, _, actions, _ in firings for a in actions}
    if not kinds - {"raise_priority", "reassign"}:
        return [
            (action, timer)
            for timer, _, actions, _ in firings
            for action in actions
            if action.get("type") in ("raise_priority", "reassign")
        ]
    tickets = Ticket.objects.select_related("assignee", "assignment_group").in_bulk(
        {timer.ticket_id for timer, *_ in firings}
    )
    managers: dict[int, list[Any]] = {}
    if "notify_group_manager" in kinds:
        wanted = {
            tickets[timer.ticket_id].assignment_group_id
            for timer, _, actions, _ in firings
            if any(a.get("type") == "notify_group_manager" for a in actions)
        } - {None}
        if wanted:
            rows = Membership.objects.filter(group_id__in=wanted, is_manager=True)
            for m in rows.select_related("user").order_by("pk"):
                managers.setdefault(m.group_id, []).append(m.user)
    named: dict[int, AssignmentGroup] = {}
    if "notify_group" in kinds:
        ids = {
            a.get("group")
            for _, _, actions, _ in firings
            for a in actions
            if a.get("type") == "notify_group" and isinstance(a.get("group"), int)
        }
        named = AssignmentGroup.objects.in_bulk(ids) if ids else {}

    notes, notices, deferred = [], [], []
    for timer, percent, actions, deadline in firings:
        ticket = tickets[timer.ticket_id]
        users: list[Any] = []
        groups: list[AssignmentGroup] = []
        for action in actions:
            kind = action.get("type")
            if kind == "notify_assignee" and ticket.assignee:
                users.append(ticket.assignee)
            elif kind == "notify_group_manager" and ticket.assignment_group_id:
                users.extend(managers.get(ticket.assignment_group_id, ()))
            elif kind == "notify_group":
                group = named.get(action.get("group"))
                if group is not None:
                    groups.append(group)
            elif kind == "work_note":
                text = action.get("text") or (
                    f"SLA “{timer.name}” reached {percent}% of its {timer.target} target."
                )
                notes.append((ticket, text))
            elif kind in ("raise_priority", "reassign"):
                deferred.append((action, timer))
        if users or groups:
            what = "breached" if percent >= 100 else f"at {percent}%"
            notices.append(
                SlaNotice(
                    ticket,
                    key=f"{timer.pk}:{percent}",
                    subject=f"[{ticket.number}] SLA {timer.name} {what}",
                    body=(
                        f"The {timer.target} SLA “{timer.name}” on {ticket.number} is {what}.\n"
                        f"Deadline: {deadline:%Y-%m-%d %H:%M} UTC\n\n{ticket.web_url}"
                    ),
                    users=tuple(users),
                    groups=tuple(groups),
                )
            )
    core.add_system_entries(notes, kind=JournalKind.WORK_NOTE)
    queue_sla_notices(notices)
    return deferred


def _ticket_action(timer: SlaTimer, action: dict) -> None:
    ticket = Ticket.objects.get(pk=timer.ticket_id)
    if not ticket.is_open:
        return
    actor = SimpleNamespace(pk=None)
    if action["type"] == "raise_priority" and ticket.priority > 1:
        core.apply_changes(
            ticket, {"priority": ticket.priority - 1}, by=actor, channel=Channel.SYSTEM
        )
    elif action["type"] == "reassign":
        group = AssignmentGroup.objects.filter(pk=action.get("group")).first()
        practice = registry.by_kind(ticket.kind)
        if group is not None and group.pk != ticket.assignment_group_id and practice:
            # Through the practice's own service, so what it keeps about a reassignment
            # (an incident's reassignment count) stays true.
            row = practice.model.objects.get(pk=ticket.pk)
            practice.service.update(
                row,
                by=system_user(),
                channel=Channel.SYSTEM,
                assignment_group=group,
                assignee=None,
            )


# -- configuration ---------------------------------------------------------------------
@transaction.atomic
def save_calendar(*, by, instance=None, **data: Any):
    """Create or change a business calendar (admins). Running timers keep their snapshot."""
    require_configure(by, "calendars and SLAs")
    calendar = instance or BusinessCalendar()
    for name, value in data.items():
        setattr(calendar, name, value)
    calendar.full_clean()
    calendar.save()
    return calendar


@transaction.atomic
def save_definition(*, by, instance=None, **data: Any) -> SlaDefinition:
    """Create or change an SLA definition (admins); it applies to timers started later."""
    require_configure(by, "calendars and SLAs")
    definition = instance or SlaDefinition()
    for name, value in data.items():
        setattr(definition, name, value)
    definition.full_clean()
    definition.save()
    return definition
