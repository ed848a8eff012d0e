"""Apply an edited SLA or calendar to the timers already running (an admin's choice).

Editing an SLA definition or a business calendar applies to timers started afterwards;
a running timer keeps the snapshot it started with. An administrator may ask for the
running timers to follow the edit: ``request_recompute`` records an ``SlaRecompute``
job and queues the ``recompute_sla_timers`` task, which calls ``run_recompute``.

What happens to each running timer (``stopped_at`` empty, not cancelled) of the
definition, or of every definition that now uses the calendar:

1. The business time elapsed so far is banked under the timer's *old* snapshot, up to
   now: time already measured is never re-measured with the new calendar or duration.
2. The snapshot is replaced by the definition as it is now and its calendar as it is
   now: name, duration, calendar, pause states, reopen behaviour and thresholds (the
   target, response or resolution, stays what it was).
3. The clock is rescheduled from now with the new snapshot:

   * thresholds that fired stay fired and never fire again (``SlaEscalation`` rows,
     unique per timer and percent); the next threshold is the lowest percent of the new
     list that has not fired;
   * a threshold the timer has already passed under the new settings is not fired
     here: its ``next_threshold_at`` becomes due (now) and the next sweep fires it;
   * a breached timer stays breached (its deadline stays the breach time), even if
     the new duration would leave it time; so does one whose old budget ran out before
     now though no sweep had noticed (breached when it ran out);
   * a timer that the new duration leaves no time is breached now, when the new
     duration applies (its thresholds still fire on the next sweep);
   * the pause is re-evaluated against the new pause states with the ticket's current
     state: a timer whose ticket is now in a pause state pauses, one whose ticket no
     longer is runs again from now.

The ticket row's deadline (``sla_breach_at``, ``sla_at_risk_at``) is refreshed, and
each ticket whose deadline moved gets one audit entry ``sla:<name>`` (old → new
deadline, channel ``system``, actor the admin who asked).

The job works in batches of ``BATCH_SIZE`` timers by id (keyset, no OFFSET), each batch
one transaction that locks the batch's tickets, then their running timers (``FOR
UPDATE``, never skip-locked: no timer may be left out), in the order ticket changes
lock them, and records the progress (``done``) with the batch. After
``BATCHES_PER_TASK`` batches the task queues its continuation and ends, so a long job
does not hold up the escalation sweep. A timer whose snapshot already equals the
current settings is left alone, so running a job again (after a crash, or twice)
changes nothing it already did: a re-run starts from the beginning and only the timers
not yet recomputed change.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from mainspring.core import services as core_services
from mainspring.core import taskqueue
from mainspring.core.models import Channel, Ticket
from mainspring.identity.policy import require_configure

from . import services
from .models import (
    BusinessCalendar,
    RecomputeState,
    SlaDefinition,
    SlaEscalation,
    SlaRecompute,
    SlaTimer,
    TimerState,
)

__all__ = [
    "BATCH_SIZE",
    "RecomputeNotRestartable",
    "RecomputePending",
    "recompute_timer",
    "request_recompute",
    "rerun_recompute",
    "run_recompute",
]

log = logging.getLogger(__name__)

# Timers per transaction: small enough to keep locks short, large enough to be quick.
BATCH_SIZE = 300
# Batches per task run; then the task queues its continuation and lets others run.
BATCHES_PER_TASK = 20
PENDING = (RecomputeState.QUEUED, RecomputeState.RUNNING)
# Snapshot fields a recompute replaces (``target`` stays: a response clock stays one).
SNAPSHOT_FIELDS = (
    "name",
    "duration_seconds",
    "calendar_config",
    "pause_states",
    "reopen",
    "thresholds",
)
_SAVED_FIELDS = [
    *SNAPSHOT_FIELDS,
    "state",
    "running_since",
    "banked_us",
    "breach_at",
    "at_risk_at",
    "next_percent",
    "next_threshold_at",
    "breached_at",
]


class RecomputePending(Exception):
    """A recompute of this SLA or calendar is already queued or running."""

    def __init__(self, job: SlaRecompute):
        self.job = job
        super().__init__(
            f"A recompute of {_target_label(job)} is already {job.get_state_display().lower()}"
            f" (job {job.pk}, {job.done} of {job.total} timers done). Wait for it to finish."
        )


class RecomputeNotRestartable(Exception):
    """Only a failed job, or one left queued or running by a stopped worker, runs again."""


def _target_label(job: SlaRecompute) -> str:
    if job.definition_id is not None:
        return f"SLA “{job.definition}”"
    return f"calendar “{job.calendar}”"


# -- requesting ------------------------------------------------------------------------
def request_recompute(
    *,
    by,
    definition: SlaDefinition | None = None,
    calendar: BusinessCalendar | None = None,
) -> SlaRecompute:
    """Queue a recompute of the running timers of ``definition`` or ``calendar`` (admins).

    Refuses (``RecomputePending``) while a job for the same SLA or calendar is queued or
    running. The job row and its task are written in one transaction (the task queue
    keeps tasks in the same database), so there is never a job without its task.
    """
    require_configure(by, "calendars and SLAs")
    if (definition is None) == (calendar is None):
        raise ValueError("Recompute either an SLA definition or a calendar.")
    from .tasks import recompute_sla_timers

    with transaction.atomic():
        if definition is not None:
            target: dict[str, Any] = {"definition": definition}
            model: type[SlaDefinition] | type[BusinessCalendar] = SlaDefinition
            pk = definition.pk
        else:
            target = {"calendar": calendar}
            model, pk = BusinessCalendar, calendar.pk
        # Lock the SLA (or calendar) row: two admins asking at once get one job.
        list(model.objects.select_for_update().filter(pk=pk).values_list("pk", flat=True))
        pending = (
            SlaRecompute.objects.filter(state__in=PENDING, **target)
            .select_related("definition", "calendar")
            .first()
        )
        if pending is not None:
            raise RecomputePending(pending)
        job = SlaRecompute.objects.create(
            requested_by_id=getattr(by, "pk", None), created_at=timezone.now(), **target
        )
        recompute_sla_timers.enqueue(job.pk)
    return job


def rerun_recompute(*, by, job: SlaRecompute) -> SlaRecompute:
    """Queue ``job`` again (admins): after a failure, or when a stopped worker left it.

    A re-run starts from the first timer; those already recomputed are left as they are.
    Raises ``RecomputeNotRestartable`` for a job that finished, ``RecomputePending`` when
    another job for the same SLA or calendar is queued or running.
    """
    require_configure(by, "calendars and SLAs")
    from .tasks import recompute_sla_timers

    with transaction.atomic():
        jobs = SlaRecompute.objects.filter(pk=job.pk)
        state = jobs.select_for_update().values_list("state", flat=True).first()
        if state is None or state == RecomputeState.DONE:
            raise RecomputeNotRestartable(f"Job {job.pk} has finished; request a new one.")
        target = {"definition_id": job.definition_id, "calendar_id": job.calendar_id}
        other = (
            SlaRecompute.objects.filter(state__in=PENDING, **target)
            .exclude(pk=job.pk)
            .select_related("definition", "calendar")
            .first()
        )
        if other is not None:
            raise RecomputePending(other)
        jobs.update(state=RecomputeState.QUEUED, error="", finished_at=None)
        recompute_sla_timers.enqueue(job.pk)
    job.refresh_from_db()
    return job


# -- running ---------------------------------------------------------------------------
def _definition_ids(job: SlaRecompute) -> list[int]:
    if job.definition_id is not None:
        return [job.definition_id]
    return list(
        SlaDefinition.objects.filter(calendar_id=job.calendar_id)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _running(definition_ids: list[int]) -> QuerySet[SlaTimer]:
    return SlaTimer.objects.filter(
        Q(definition_id__in=definition_ids) & Q(stopped_at__isnull=True)
    ).exclude(state=TimerState.CANCELLED)


def run_recompute(
    job_id: int,
    *,
    after_id: int = 0,
    last_id: int | None = None,
    batch_size: int | None = None,
    batches_per_task: int | None = None,
) -> int:
    """Recompute the running timers of job ``job_id``; returns how many timers changed.

    Without ``last_id`` the job starts from its first timer (a first run, or a re-run);
    with it, it goes on after timer ``after_id``. Progress (``done`` of ``total``) is
    saved with each batch. After ``batches_per_task`` batches the task queues its own
    continuation (in the transaction of its last batch) and returns, so the escalation
    sweep and other tasks are not held up behind a long recompute. An error is raised
    again, so the task runner retries the task; the job says why it waits, and is
    marked failed (with the error text) only when no attempt is left.
    """
    from .tasks import recompute_sla_timers

    size = batch_size or BATCH_SIZE
    per_task = batches_per_task or BATCHES_PER_TASK
    job = SlaRecompute.objects.select_related("definition", "calendar").filter(pk=job_id).first()
    if job is None:
        log.warning("SLA recompute job %s is gone (its SLA or calendar was deleted)", job_id)
        return 0
    if job.state == RecomputeState.DONE:
        return 0
    jobs = SlaRecompute.objects.filter(pk=job.pk)
    changed = 0
    try:
        definition_ids = _definition_ids(job)
        running = _running(definition_ids)
        if last_id is None:
            # Timers started after this point already carry the current settings.
            bounds = running.aggregate(total=Count("id"), last=Max("id"))
            total, last_id, after_id, done = bounds["total"], bounds["last"] or 0, 0, 0
            jobs.update(
                state=RecomputeState.RUNNING, total=total, done=0, error="", finished_at=None
            )
        else:
            total, done = job.total, job.done
        for batch_no in range(1, per_task + 1):
            with transaction.atomic():
                rows = list(
                    running.filter(id__gt=after_id, id__lte=last_id)
                    .order_by("id")
                    .values_list("id", "ticket_id")[:size]
                )
                if rows:
                    changed += _recompute_batch(job, definition_ids, rows, timezone.now())
                    after_id = rows[-1][0]
                    done = min(done + len(rows), total)
                    jobs.update(done=done)
                more = len(rows) == size
                if more and batch_no == per_task:
                    recompute_sla_timers.enqueue(job.pk, after_id=after_id, last_id=last_id)
                    return changed
            if not more:
                break
        # Timers that stopped while the job ran needed nothing: the job is complete.
        jobs.update(state=RecomputeState.DONE, done=total, finished_at=timezone.now())
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        if taskqueue.final_attempt():
            jobs.update(state=RecomputeState.FAILED, error=error[:2000], finished_at=timezone.now())
            log.exception("SLA recompute job %s failed", job.pk)
        else:
            # The task runner tries this task again after a backoff: the job stays
            # pending (so nobody starts a second chain beside it) and says why it waits.
            jobs.update(
                state=RecomputeState.QUEUED,
                error=f"{error[:1900]} (will try again shortly)",
                finished_at=None,
            )
            log.warning("SLA recompute job %s failed; the task will be retried", job.pk)
        raise
    log.info("SLA recompute job %s done: %s running timers", job.pk, total)
    return changed


def _recompute_batch(
    job: SlaRecompute, definition_ids: list[int], rows: list[tuple[int, int]], now: datetime
) -> int:
    """One transaction: lock the tickets, then their running timers; recompute the batch's."""
    batch_ids = {timer_id for timer_id, _ in rows}
    ticket_ids = sorted({ticket_id for _, ticket_id in rows})
    # Ticket changes lock the ticket row before they touch its timers: same order here.
    tickets = {
        t.pk: t
        for t in Ticket.objects.select_for_update()
        .filter(pk__in=ticket_ids)
        .only("pk", "state", "sla_breach_at", "sla_at_risk_at")
        .order_by("pk")
    }
    # Every running timer of these tickets: the batch's, locked, and the others, which
    # the ticket's deadline is also computed from.
    timers = list(
        SlaTimer.objects.select_for_update()
        .filter(ticket_id__in=ticket_ids, stopped_at__isnull=True)
        .order_by("id")
    )
    definitions = {
        d.pk: d
        for d in SlaDefinition.objects.filter(pk__in=definition_ids).select_related("calendar")
    }
    configs: dict[int, dict] = {}
    fired: dict[int, set[int]] = defaultdict(set)
    for timer_id, percent in SlaEscalation.objects.filter(timer_id__in=batch_ids).values_list(
        "timer_id", "percent"
    ):
        fired[timer_id].add(percent)

    changed: list[SlaTimer] = []
    audit: dict[int, dict[str, tuple[str, str]]] = defaultdict(dict)
    for timer in timers:
        definition = definitions.get(timer.definition_id)
        ticket = tickets.get(timer.ticket_id)
        if (
            timer.pk not in batch_ids
            or timer.state == TimerState.CANCELLED
            or definition is None
            or ticket is None
        ):
            continue
        if definition.calendar_id not in configs:
            configs[definition.calendar_id] = definition.calendar.as_config()
        before = timer.breach_at
        if recompute_timer(
            timer,
            definition,
            calendar_config=configs[definition.calendar_id],
            ticket_state=ticket.state,
            fired=fired[timer.pk],
            now=now,
        ):
            changed.append(timer)
            if timer.breach_at != before:
                field = f"sla:{timer.name}"[:50]  # AuditEntry.field is 50 characters
                audit[ticket.pk][field] = (_iso(before), _iso(timer.breach_at))
    if not changed:
        return 0
    _save_timers(changed)
    by_ticket: dict[int, list[SlaTimer]] = defaultdict(list)
    for timer in timers:
        by_ticket[timer.ticket_id].append(timer)
    for ticket_id in sorted({t.ticket_id for t in changed}):
        services.refresh_ticket_deadlines(tickets[ticket_id], by_ticket[ticket_id])
    core_services.write_audits(
        audit, by=SimpleNamespace(pk=job.requested_by_id), channel=Channel.SYSTEM
    )
    return len(changed)


def _save_timers(timers: list[SlaTimer]) -> None:
    """Write the recomputed timers: one ``UPDATE … FROM unnest`` on PostgreSQL.

    (Django's ``bulk_update`` builds a CASE per field and row: for a batch of 300 it
    cost about 2 s of Python, most of a batch's time.) Elsewhere, one UPDATE per timer.
    """
    if connection.vendor != "postgresql":
        for timer in timers:
            SlaTimer.objects.filter(pk=timer.pk).update(
                **{name: getattr(timer, name) for name in _SAVED_FIELDS}
            )
        return
    q = connection.ops.quote_name
    fields = [SlaTimer._meta.get_field(name) for name in _SAVED_FIELDS]
    pk = SlaTimer._meta.pk
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in [pk, *fields])
    names = ", ".join(q(f.column) for f in [pk, *fields])
    sets = ", ".join(f"{q(f.column)} = v.{q(f.column)}" for f in fields)
    table = q(SlaTimer._meta.db_table)
    params: list[list[Any]] = [[t.pk for t in timers]]
    params += [
        [f.get_db_prep_save(getattr(t, f.attname), connection) for t in timers] for f in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {sets} FROM unnest({arrays}) AS v({names}) "  # noqa: S608 - model names
            f"WHERE {table}.{q(pk.column)} = v.{q(pk.column)}",
            params,
        )


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def recompute_timer(
    timer: SlaTimer,
    definition: SlaDefinition,
    *,
    calendar_config: dict,
    ticket_state: str,
    fired: set[int],
    now: datetime,
) -> bool:
    """Move a running ``timer`` onto ``definition`` as it is now (in memory, not saved).

    ``fired`` holds the percents that already fired for this timer. Returns False (and
    changes nothing) when the timer's snapshot already matches.
    """
    snapshot = {
        "name": definition.name,
        "duration_seconds": definition.duration_seconds,
        "calendar_config": calendar_config,
        "pause_states": list(definition.pause_states),
        "reopen": definition.reopen,
        "thresholds": list(definition.thresholds),
    }
    if all(getattr(timer, name) == value for name, value in snapshot.items()):
        return False
    # Time so far, measured on the old calendar; a budget that ran out under the old
    # snapshot is recorded as breached at that instant.
    services._bank(timer, now)
    for name, value in snapshot.items():
        setattr(timer, name, value)
    if services._spent(timer):
        # The new, shorter budget is used up already: it runs out now, when it applies.
        services._breach(timer, now)
    percents = sorted(t["percent"] for t in timer.thresholds)
    timer.next_percent = next((p for p in percents if p not in fired), None)
    if ticket_state in timer.pause_states:
        services._pause(timer, now)
    else:
        services._run(timer, now)
    return True
