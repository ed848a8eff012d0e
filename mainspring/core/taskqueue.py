"""The task queue: a django-tasks backend on our own table, with leases, retries and a
dead-letter list (``core.BackgroundTask``).

Call sites use the django-tasks API only (``@task()``, ``.enqueue()``,
``.using(run_after=...)``), so the backend stays swappable. This one writes each task as
a row in the caller's transaction (one INSERT), so a rollback enqueues nothing and a
commit loses nothing. Every row ends ``done``, or ``dead`` with its attempts, last error
and traceback; never silently gone:

* **Claim.** A worker takes the oldest due ``ready`` row (``SELECT ... FOR UPDATE SKIP
  LOCKED`` on PostgreSQL; SQLite's write lock, taken at BEGIN IMMEDIATE, elsewhere) and
  marks it ``running`` with ``attempts + 1``, its ``worker_id`` and a lease.
* **Lease.** While the task runs, a thread of the worker renews the lease. A worker that
  is killed or cut off stops renewing; any worker then finds the expired lease and puts
  the row back to ``ready`` (or ``dead`` once the attempts are used up).
* **Fencing.** Every write about a run is conditional on (status running, worker_id,
  attempts): a worker that lost its lease cannot overwrite what the next run recorded.
* **Retries.** A task that raises is retried after an exponential backoff with jitter,
  up to ``TASK_MAX_ATTEMPTS``; then it is dead, and an admin can run it again (admin
  screen, ``mainspring tasks --retry``, ``POST /api/v1/tasks/<id>/retry/``).

A task may therefore run more than once (a worker killed after the task's effect
committed and before the row said so): every task must be idempotent.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import random
import threading
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta
from traceback import format_exception
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import connection, connections, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import TaskContext, TaskResult, TaskResultStatus
from django_tasks.backends.base import BaseTaskBackend
from django_tasks.base import Task, TaskError
from django_tasks.exceptions import TaskResultDoesNotExist
from django_tasks.signals import task_enqueued, task_finished, task_started
from django_tasks.utils import normalize_json

from .models import BackgroundTask, TaskStatus

__all__ = [
    "DatabaseBackend",
    "WorkerLost",
    "claim",
    "current_task_id",
    "dead_count",
    "enqueue_many",
    "final_attempt",
    "known_tasks",
    "prune_done",
    "reclaim_expired",
    "retry_delay",
    "run",
    "run_again",
]

log = logging.getLogger(__name__)

# Worker ids kept per row: enough to see a task that keeps killing its workers.
WORKER_HISTORY = 20

_STATUS = {
    TaskStatus.READY: TaskResultStatus.READY,
    TaskStatus.RUNNING: TaskResultStatus.RUNNING,
    TaskStatus.DONE: TaskResultStatus.SUCCESSFUL,
    TaskStatus.DEAD: TaskResultStatus.FAILED,
}

_current: ContextVar[BackgroundTask | None] = ContextVar("mainspring_current_task", default=None)


class WorkerLost(Exception):
    """The worker running a task stopped renewing its lease (killed, crashed, cut off)."""


# -- settings ----------------------------------------------------------------------------
def lease_seconds() -> float:
    return float(getattr(settings, "TASK_LEASE_SECONDS", 60))


def max_attempts() -> int:
    return max(1, int(getattr(settings, "TASK_MAX_ATTEMPTS", 8)))


def retry_delay(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failed: base × 2^(attempts-1), capped,
    ±20 % jitter so tasks that failed together (a database restart) do not retry
    together."""
    base = float(getattr(settings, "TASK_RETRY_BASE_SECONDS", 30))
    cap = float(getattr(settings, "TASK_RETRY_MAX_SECONDS", 3600))
    delay = min(cap, base * 2 ** max(0, min(attempts - 1, 30)))
    return timedelta(seconds=min(cap, delay * random.uniform(0.8, 1.2)))


# -- enqueueing --------------------------------------------------------------------------
def _row(task: Task, args: Sequence, kwargs: Mapping, now: datetime) -> BackgroundTask:
    return BackgroundTask(
        task_path=task.module_path,
        args=normalize_json(list(args)),
        kwargs=normalize_json(dict(kwargs)),
        queue_name=task.queue_name,
        priority=task.priority,
        enqueued_at=now,
        run_after=task.run_after or now,
    )


def load_task(row: BackgroundTask) -> Task:
    """The ``Task`` a row names (ImportError when the code is gone)."""
    task = import_string(row.task_path)
    if not isinstance(task, Task):
        raise SuspiciousOperation(f"Task {row.pk} does not name a task ({row.task_path})")
    return task.using(priority=row.priority, queue_name=row.queue_name)


def to_result(row: BackgroundTask, task: Task | None = None) -> TaskResult:
    """The row as django-tasks' ``TaskResult`` (``context.attempt`` = ``row.attempts``)."""
    task = task or load_task(row)
    errors = []
    if row.status == TaskStatus.DEAD:
        path = row.last_error.split(":", 1)[0].strip() or "builtins.Exception"
        errors.append(TaskError(exception_class_path=path, traceback=row.traceback))
    result = TaskResult(
        task=task,
        id=str(row.pk),
        status=_STATUS[row.status],
        enqueued_at=row.enqueued_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        last_attempted_at=row.started_at,
        args=row.args,
        kwargs=row.kwargs,
        backend=task.backend,
        errors=errors,
        worker_ids=list(row.worker_ids[-row.attempts :]) if row.attempts else [],
    )
    object.__setattr__(result, "_return_value", row.return_value)
    return result


class DatabaseBackend(BaseTaskBackend):
    """django-tasks backend: one ``core.BackgroundTask`` row per enqueue, same transaction."""

    supports_defer = True
    supports_get_result = True
    supports_priority = True

    def enqueue(self, task: Task, args: Sequence, kwargs: Mapping) -> TaskResult:
        self.validate_task(task)
        row = _row(task, args, kwargs, timezone.now())
        row.save(force_insert=True)
        result = to_result(row, task)
        task_enqueued.send(type(self), task_result=result)
        return result

    def enqueue_many(
        self, task: Task, calls: Iterable[tuple[Sequence, Mapping]]
    ) -> list[TaskResult]:
        self.validate_task(task)
        now = timezone.now()
        rows = BackgroundTask.objects.bulk_create([_row(task, a, k, now) for a, k in calls])
        results = [to_result(row, task) for row in rows]
        for result in results:
            task_enqueued.send(type(self), task_result=result)
        return results

    def get_result(self, result_id: str) -> TaskResult:
        try:
            row = BackgroundTask.objects.get(pk=int(result_id))
        except (BackgroundTask.DoesNotExist, ValueError, TypeError) as exc:
            raise TaskResultDoesNotExist(result_id) from exc
        return to_result(row)


def known_tasks() -> list[str]:
    """The dotted paths of every task in the installed apps' ``tasks`` modules."""
    paths = set()
    for app in apps.get_app_configs():
        name = f"{app.name}.tasks"
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        paths.update(v.module_path for v in vars(module).values() if isinstance(v, Task))
    return sorted(paths)


def enqueue_many(task: Task, calls: Iterable[tuple[Sequence, Mapping]]) -> list[TaskResult]:
    """``task.enqueue(*args, **kwargs)`` for each ``(args, kwargs)``: on this backend one
    INSERT (SQLite splits very long lists into a few), on any other one enqueue each."""
    calls = list(calls)
    backend = task.get_backend()
    if not calls:
        return []
    if isinstance(backend, DatabaseBackend):
        return backend.enqueue_many(task, calls)
    return [task.enqueue(*args, **kwargs) for args, kwargs in calls]


# -- claiming and running ----------------------------------------------------------------
def _in_atomic_block() -> bool:
    return any(c.in_atomic_block for c in connections.all(initialized_only=True))


def claim(worker_id: str, *, now: datetime | None = None) -> BackgroundTask | None:
    """Take the next due ``ready`` row for ``worker_id`` (or None): running, attempts + 1,
    leased. Concurrent workers never take the same row."""
    now = now or timezone.now()
    with transaction.atomic():
        due = BackgroundTask.objects.filter(status=TaskStatus.READY, run_after__lte=now).order_by(
            "-priority", "run_after", "id"
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        row = due.first()
        if row is None:
            return None
        row.status = TaskStatus.RUNNING
        row.attempts += 1
        row.worker_id = worker_id[:64]
        row.worker_ids = [*row.worker_ids, row.worker_id][-WORKER_HISTORY:]
        row.started_at = now
        row.lease_expires_at = now + timedelta(seconds=lease_seconds())
        row.save(
            update_fields=[
                "status",
                "attempts",
                "worker_id",
                "worker_ids",
                "started_at",
                "lease_expires_at",
            ]
        )
    return row


def _fenced(row: BackgroundTask) -> QuerySet[BackgroundTask]:
    """The row, only while this run still holds it (not reclaimed, not re-run)."""
    return BackgroundTask.objects.filter(
        pk=row.pk, status=TaskStatus.RUNNING, worker_id=row.worker_id, attempts=row.attempts
    )


def current_task_id() -> int | None:
    """The id of the task this thread is running (None outside a task).

    A task can tell a re-run of itself (same id, a later attempt) from another task, e.g.
    to take back work its previous attempt claimed and never finished.
    """
    row = _current.get()
    return row.pk if row is not None else None


def final_attempt() -> bool:
    """Whether a failure now is final: the task this thread runs has no attempt left (or
    the code runs outside the runner, where nothing will try again). A task that keeps
    its own record of progress says "failed" only then, and "retrying" before."""
    row = _current.get()
    return row is None or row.attempts >= max_attempts()


class LeaseKeeper(threading.Thread):
    """Renews a running task's lease every third of the lease, on its own connection."""

    def __init__(self, row: BackgroundTask) -> None:
        super().__init__(name=f"lease-{row.pk}", daemon=True)
        self.row = row
        self.done = threading.Event()
        self.lost = False

    def run(self) -> None:
        lease = lease_seconds()
        try:
            while not self.done.wait(max(0.1, lease / 3)):
                try:
                    kept = _fenced(self.row).update(
                        lease_expires_at=timezone.now() + timedelta(seconds=lease)
                    )
                except Exception:
                    # The next beat retries; if none gets through, the lease lapses and
                    # the task runs again, which is what a cut-off worker should cause.
                    log.warning("Could not renew the lease of task %s", self.row.pk, exc_info=True)
                    connection.close()
                    continue
                if not kept:
                    self.lost = True
                    log.warning("Task %s: this worker lost its lease", self.row.pk)
                    return
        finally:
            connection.close()

    def stop(self) -> None:
        self.done.set()
        # A beat stuck waiting for SQLite's lock must not hold up the worker; a late
        # beat is harmless (fenced on a row that is no longer running).
        self.join(timeout=5)


def _jsonable(value: Any) -> Any:
    try:
        return normalize_json(value)
    except (TypeError, ValueError):
        return repr(value)[:2000]


def _error_text(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}: {exc}"[:2000]


def drop_broken_connections() -> None:
    """Close connections a failure left unusable (a terminated backend, a network cut),
    so the next query reconnects; healthy ones stay open whatever their age (the worker
    checks the age once a tick). Never inside a transaction the caller holds open."""
    if _in_atomic_block():
        return
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        if conn.get_autocommit() != conn.settings_dict["AUTOCOMMIT"]:
            conn.close()  # left mid-transaction by a failure: do not trust it
        elif conn.errors_occurred:
            if conn.is_usable():
                conn.errors_occurred = False
            else:
                conn.close()


def run(row: BackgroundTask, *, keep_lease: bool = True) -> str:
    """Run a claimed row and record the outcome. Returns "done", "retry", "dead" or "lost"
    (the lease was lost, or the outcome could not be written: the lease brings it back).
    """
    token = _current.set(row)
    keeper = LeaseKeeper(row) if keep_lease else None
    if keeper is not None:
        keeper.start()
    try:
        try:
            task = load_task(row)
            result = to_result(row, task)
            task_started.send(type(task.get_backend()), task_result=result)
            if task.takes_context:
                value = task.call(TaskContext(task_result=result), *row.args, **row.kwargs)
            else:
                value = task.call(*row.args, **row.kwargs)
        except Exception as exc:
            return _failed(row, exc)
        try:
            outcome = "done" if _complete(row, value) else "lost"
        except Exception:
            log.exception("Task %s ran, but recording it failed; it will run again", row.pk)
            drop_broken_connections()
            return "lost"
        if outcome == "lost":
            log.warning("Task %s finished after losing its lease; result not recorded", row.pk)
        else:
            row.status, row.return_value = TaskStatus.DONE, _jsonable(value)
            task_finished.send(type(task.get_backend()), task_result=to_result(row, task))
        return outcome
    finally:
        if keeper is not None:
            keeper.stop()
        _current.reset(token)


def _complete(row: BackgroundTask, value: Any) -> bool:
    return bool(
        _fenced(row).update(
            status=TaskStatus.DONE,
            finished_at=timezone.now(),
            lease_expires_at=None,
            return_value=_jsonable(value),
        )
    )


def _failed(row: BackgroundTask, exc: Exception) -> str:
    drop_broken_connections()
    try:
        outcome = record_failure(row, exc)
    except Exception:
        log.exception("Task %s failed and recording it failed too; its lease will expire", row.pk)
        drop_broken_connections()
        return "lost"
    if outcome == "dead":
        log.error(
            "Task %s (%s) is dead after %s attempts: %s",
            row.pk,
            row.task_path,
            row.attempts,
            _error_text(exc),
            exc_info=exc,
        )
    elif outcome == "retry":
        log.warning(
            "Task %s (%s) failed on attempt %s; will retry: %s",
            row.pk,
            row.task_path,
            row.attempts,
            _error_text(exc),
        )
    return outcome


def record_failure(row: BackgroundTask, exc: BaseException, *, now: datetime | None = None) -> str:
    """Back to ``ready`` after a backoff, or ``dead`` when the attempts are used up."""
    now = now or timezone.now()
    fields: dict[str, Any] = {
        "lease_expires_at": None,
        "last_error": _error_text(exc),
        "traceback": "".join(format_exception(exc))[-20_000:],
    }
    if row.attempts >= max_attempts():
        updated = _fenced(row).update(status=TaskStatus.DEAD, finished_at=now, **fields)
        return "dead" if updated else "lost"
    run_after = now + retry_delay(row.attempts)
    updated = _fenced(row).update(status=TaskStatus.READY, run_after=run_after, **fields)
    return "retry" if updated else "lost"


def reclaim_expired(*, now: datetime | None = None, limit: int = 500) -> int:
    """Put rows whose worker stopped renewing the lease back to ``ready`` (at once: the
    lease was the wait), or ``dead`` when that was the last attempt. Returns how many."""
    now = now or timezone.now()
    expired = list(
        BackgroundTask.objects.filter(status=TaskStatus.RUNNING, lease_expires_at__lt=now)
        .order_by("lease_expires_at")
        .values_list("pk", "attempts", "worker_id")[:limit]
    )
    reclaimed = 0
    for pk, attempts, worker_id in expired:
        error = (
            f"{WorkerLost.__module__}.WorkerLost: worker {worker_id} stopped renewing its "
            f"lease on attempt {attempts} (killed, crashed or cut off from the database)"
        )
        # The same fence as the worker's own writes, plus the expiry: a lease renewed
        # a moment ago is left alone.
        fence = BackgroundTask.objects.filter(
            pk=pk,
            status=TaskStatus.RUNNING,
            worker_id=worker_id,
            attempts=attempts,
            lease_expires_at__lt=now,
        )
        if attempts >= max_attempts():
            done = fence.update(
                status=TaskStatus.DEAD,
                finished_at=now,
                lease_expires_at=None,
                last_error=error,
                traceback="",
            )
            if done:
                log.error("Task %s is dead: %s", pk, error)
        else:
            done = fence.update(
                status=TaskStatus.READY, run_after=now, lease_expires_at=None, last_error=error
            )
            if done:
                log.warning("Task %s will run again: %s", pk, error)
        reclaimed += done
    return reclaimed


# -- housekeeping and the dead-letter list -----------------------------------------------
def prune_done(*, now: datetime | None = None, batch: int = 2000) -> int:
    """Delete ``done`` rows older than ``TASK_KEEP_DONE_DAYS``, in batches; never ``dead``
    ones. Returns how many were deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=int(getattr(settings, "TASK_KEEP_DONE_DAYS", 7)))
    old = BackgroundTask.objects.filter(status=TaskStatus.DONE, finished_at__lt=cutoff)
    deleted = 0
    while True:
        ids = list(old.order_by().values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += BackgroundTask.objects.filter(pk__in=ids, status=TaskStatus.DONE).delete()[0]
        if len(ids) < batch:
            return deleted


def dead_count(cap: int = 1000) -> int:
    """How many tasks are dead, counting no further than ``cap`` (a bounded query)."""
    return BackgroundTask.objects.filter(status=TaskStatus.DEAD).order_by()[:cap].count()


def run_again(tasks: QuerySet[BackgroundTask], *, by=None) -> int:
    """Give dead tasks a fresh set of attempts, to run as soon as a worker is free.

    ``by`` is the administrator asking (checked by the policy); None is an operator at
    the command line. Rows that are not dead are left alone. Returns how many.
    """
    from mainspring.identity.policy import require_configure

    if by is not None:
        require_configure(by, "background tasks")
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            tasks.filter(status=TaskStatus.DEAD).select_for_update().values_list("pk", flat=True)
        )
        count = BackgroundTask.objects.filter(pk__in=ids, status=TaskStatus.DEAD).update(
            status=TaskStatus.READY,
            attempts=0,
            run_after=now,
            finished_at=None,
            worker_id="",
            lease_expires_at=None,
        )
    if count:
        who = getattr(by, "username", None) or "the command line"
        log.info("%s dead task(s) run again by %s: %s", count, who, ids[:50])
    return count
