"""The background worker: tasks, failures, concurrency, periodic jobs and auto-close."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone
from django_tasks import task

from mainspring.core.models import (
    BackgroundTask,
    JournalEntry,
    PeriodicRun,
    TaskStatus,
    WorkerHeartbeat,
)
from mainspring.core.periodic import enqueue_due_jobs, registry
from mainspring.core.worker import BackgroundWorker, run_pending_tasks
from mainspring.incidents import services
from mainspring.incidents.models import Incident
from tests.factories import make_incident

_ran: list[str] = []
_ran_lock = threading.Lock()


@task()
def record(label: str) -> str:
    with _ran_lock:
        _ran.append(label)
    return label


@task()
def explode() -> None:
    raise RuntimeError("this task always fails")


_connections: list = []


@task()
def note_connection() -> None:
    # The driver's connection object itself (kept alive, so two are never confused).
    _connections.append(connection.connection)


@pytest.fixture(autouse=True)
def _clear_ran():
    _ran.clear()
    yield
    _ran.clear()


def results_for(fn) -> list[BackgroundTask]:
    return list(BackgroundTask.objects.filter(task_path=fn.module_path).order_by("id"))


# --- running tasks ---------------------------------------------------------------------


def test_a_failing_task_does_not_stop_the_others(db):
    explode.enqueue()
    record.enqueue("after")

    worker = BackgroundWorker(worker_id="w1")
    worker._last_schedule = time.monotonic()  # no periodic jobs in this tick
    ran = worker.tick()

    assert ran == 2
    assert _ran == ["after"]
    (failed,) = results_for(explode)
    # Back in the queue for a later try, with what went wrong.
    assert failed.status == TaskStatus.READY
    assert failed.attempts == 1
    assert failed.run_after > timezone.now()
    assert failed.last_error == "builtins.RuntimeError: this task always fails"
    assert "this task always fails" in failed.traceback
    assert results_for(record)[0].status == TaskStatus.DONE


def _sessions_on_this_database() -> int | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_worker_thread_survives_failures_and_stops_cleanly():
    sessions_before = _sessions_on_this_database()
    worker = BackgroundWorker(interval=0.05, worker_id="thread-worker")
    thread = worker.start_thread()
    try:
        explode.enqueue()
        record.enqueue("one")
        record.enqueue("two")
        deadline = time.monotonic() + 20
        while sorted(_ran) != ["one", "two"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(_ran) == ["one", "two"]
        assert thread.is_alive()
        assert WorkerHeartbeat.objects.filter(worker_id="thread-worker").exists()
    finally:
        worker.stop(timeout=20)
    assert not thread.is_alive()
    assert not WorkerHeartbeat.objects.filter(worker_id="thread-worker").exists()
    # The thread took its connections with it (and its tasks' lease keepers theirs): an
    # open one would keep the database from being dropped.
    assert _sessions_on_this_database() == sessions_before


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_run_the_same_task():
    labels = [f"t{i}" for i in range(40)]
    for label in labels:
        record.enqueue(label)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(worker_id: str) -> None:
        try:
            barrier.wait()
            run_pending_tasks(worker_id=worker_id)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert errors == []
    assert sorted(_ran) == sorted(labels)  # each exactly once
    rows = results_for(record)
    assert len(rows) == len(labels)
    assert all(row.status == TaskStatus.DONE and row.attempts == 1 for row in rows)
    assert {row.worker_id for row in rows} <= {"w1", "w2"}


def test_deferred_tasks_wait_for_their_time(db):
    record.using(run_after=timezone.now() + timedelta(minutes=10)).enqueue("later")
    assert run_pending_tasks() == 0
    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=True):
        assert run_pending_tasks() == 1
    assert _ran == ["later"]


def test_worker_command_batch_runs_periodic_jobs_and_beats(db):
    record.enqueue("queued")
    call_command("mainspring_worker", batch=True, worker_id="batch-1")
    assert _ran == ["queued"]
    assert WorkerHeartbeat.objects.filter(worker_id="batch-1").exists()
    (auto_close,) = BackgroundTask.objects.filter(
        task_path__endswith="auto_close_resolved_incidents"
    )
    assert auto_close.status == TaskStatus.DONE


# --- periodic jobs ---------------------------------------------------------------------


def test_periodic_jobs_are_registered():
    assert "auto_close_resolved_incidents" in registry
    assert registry["auto_close_resolved_incidents"].every == timedelta(hours=1)
    assert "requeue_stalled_deliveries" in registry


def test_a_due_job_is_enqueued_once_by_two_workers(db):
    first = enqueue_due_jobs()
    second = enqueue_due_jobs()  # another worker, a moment later

    assert "auto_close_resolved_incidents" in first
    assert second == []
    assert (
        BackgroundTask.objects.filter(task_path__endswith="auto_close_resolved_incidents").count()
        == 1
    )

    with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=1), tick=True):
        assert "auto_close_resolved_incidents" in enqueue_due_jobs()
    assert PeriodicRun.objects.get(name="auto_close_resolved_incidents").last_run_at


@pytest.mark.django_db(transaction=True)
def test_concurrent_schedulers_enqueue_once():
    barrier = threading.Barrier(4)
    results: list[list[str]] = []

    def schedule() -> None:
        try:
            barrier.wait()
            results.append(enqueue_due_jobs())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=schedule) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    enqueued = [name for names in results for name in names]
    assert len(results) == 4
    assert enqueued.count("auto_close_resolved_incidents") == 1
    assert (
        BackgroundTask.objects.filter(task_path__endswith="auto_close_resolved_incidents").count()
        == 1
    )


def test_auto_close_closes_only_old_resolutions(db, settings, requester, agent, run_tasks):
    settings.INCIDENT_AUTO_CLOSE_DAYS = 7
    now = timezone.now()
    with time_machine.travel(now - timedelta(days=8), tick=False):
        old = make_incident(by=requester, title="Old")
        services.start(old, by=agent)
        services.resolve(old, by=agent, code="solved", notes="Fixed.")
    with time_machine.travel(now - timedelta(days=6), tick=False):
        recent = make_incident(by=requester, title="Recent")
        services.start(recent, by=agent)
        services.resolve(recent, by=agent, code="solved", notes="Fixed.")

    with time_machine.travel(now, tick=True):
        assert "auto_close_resolved_incidents" in enqueue_due_jobs()
        run_tasks()

    old = Incident.objects.get(pk=old.pk)
    recent = Incident.objects.get(pk=recent.pk)
    assert old.state == "closed"
    assert old.closed_at is not None
    assert recent.state == "resolved"
    assert JournalEntry.objects.filter(ticket=old, kind="system", body__contains="automatically")
    (result,) = BackgroundTask.objects.filter(task_path__endswith="auto_close_resolved_incidents")
    assert result.status == TaskStatus.DONE
    assert result.return_value == 1


@pytest.mark.django_db(transaction=True)
def test_tasks_of_one_tick_share_a_healthy_connection():
    """Reconnecting per task made SQLite (CONN_MAX_AGE 0) open, set up and checkpoint
    its database for every task; only a broken connection is replaced mid-tick."""
    _connections.clear()
    for _ in range(3):
        note_connection.enqueue()
    worker = BackgroundWorker(worker_id="w-conn")
    worker._last_schedule = worker._last_heartbeat = time.monotonic()
    assert worker.tick() == 3
    assert len(_connections) == 3 and len({id(c) for c in _connections}) == 1
    _connections.clear()
