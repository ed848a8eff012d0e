"""The task runner (core.taskqueue): enqueueing, claims, leases, fencing, retries, the
dead-letter list, pruning, and carrying over the old backend's queue."""

from __future__ import annotations

import importlib
import json
import time
import types
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import OperationalError, connection, transaction
from django.db.models import Max
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks import TaskContext, TaskResultStatus, task
from django_tasks.exceptions import TaskResultDoesNotExist

from mainspring.core import taskqueue
from mainspring.core.models import BackgroundTask, TaskStatus
from mainspring.core.periodic import registry
from mainspring.core.worker import BackgroundWorker, run_pending_tasks
from mainspring.identity.policy import Forbidden

_seen: list = []


@task()
def remember(label: str, **extra) -> str:
    _seen.append((label, extra))
    return label


@task()
def always_fails() -> None:
    raise RuntimeError("no luck")


@task()
def loses_the_database() -> None:
    raise OperationalError("server closed the connection unexpectedly")


@task(takes_context=True)
def whoami(context: TaskContext) -> list:
    return [context.attempt, taskqueue.current_task_id(), context.task_result.id]


@task()
def returns_a_set() -> object:
    return {1, 2}


@task()
def outlasts_its_lease(seconds: float) -> dict:
    """Runs past its lease; halfway through, another worker looks for expired leases."""
    time.sleep(seconds)
    mine = BackgroundTask.objects.get(pk=taskqueue.current_task_id())
    return {
        "reclaimed": taskqueue.reclaim_expired(),
        "lease_left": (mine.lease_expires_at - timezone.now()).total_seconds(),
        "held_for": (timezone.now() - mine.started_at).total_seconds(),
    }


@pytest.fixture(autouse=True)
def _clear_seen():
    _seen.clear()
    yield
    _seen.clear()


def only(fn) -> BackgroundTask:
    (row,) = BackgroundTask.objects.filter(task_path=fn.module_path)
    return row


# -- enqueueing --------------------------------------------------------------------------
def test_enqueue_writes_one_ready_row_and_a_result(db):
    result = remember.enqueue("a", colour="red")

    row = BackgroundTask.objects.get(pk=int(result.id))
    assert (row.task_path, row.args, row.kwargs) == (remember.module_path, ["a"], {"colour": "red"})
    assert (row.status, row.attempts, row.queue_name, row.priority) == ("ready", 0, "default", 0)
    assert row.run_after == row.enqueued_at
    assert result.status == TaskResultStatus.READY
    again = remember.get_result(result.id)
    assert (again.args, again.kwargs, again.status) == (["a"], {"colour": "red"}, "READY")
    with pytest.raises(TaskResultDoesNotExist):
        remember.get_result("999999")
    with pytest.raises(TaskResultDoesNotExist):
        remember.get_result("not-a-number")


def test_a_rolled_back_change_enqueues_nothing(db):
    with pytest.raises(RuntimeError), transaction.atomic():
        remember.enqueue("never")
        raise RuntimeError("the change failed")
    assert not BackgroundTask.objects.exists()


def test_enqueue_many_is_one_insert_and_every_call_runs(db):
    calls = [((f"k{i}",), {"n": i}) for i in range(30)]
    with CaptureQueriesContext(connection) as ctx:
        results = taskqueue.enqueue_many(remember, calls)
    inserts = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1 and '"core_backgroundtask"' in inserts[0]
    assert len(results) == 30 and len({r.id for r in results}) == 30
    assert taskqueue.enqueue_many(remember, []) == []

    assert run_pending_tasks() == 30
    assert sorted(_seen) == sorted((f"k{i}", {"n": i}) for i in range(30))


def test_enqueue_many_on_another_backend_enqueues_each(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    results = taskqueue.enqueue_many(remember, [(("x",), {}), (("y",), {})])
    assert [r.status for r in results] == ["SUCCESSFUL", "SUCCESSFUL"]
    assert _seen == [("x", {}), ("y", {})]


def test_deferred_and_prioritised_tasks(db):
    later = timezone.now() + timedelta(minutes=5)
    remember.using(run_after=later).enqueue("later")
    remember.enqueue("normal")
    remember.using(priority=10).enqueue("urgent")

    assert run_pending_tasks() == 2
    assert [label for label, _ in _seen] == ["urgent", "normal"]
    with time_machine.travel(later + timedelta(seconds=1), tick=False):
        assert run_pending_tasks() == 1
    assert _seen[-1][0] == "later"


def test_known_tasks_lists_every_apps_tasks():
    known = taskqueue.known_tasks()
    assert "mainspring.notifications.tasks.send_delivery" in known
    assert "mainspring.core.tasks.prune_finished_tasks" in known
    assert set(job.task.module_path for job in registry.values()) <= set(known)


# -- running -----------------------------------------------------------------------------
def test_context_knows_the_attempt_and_the_task_knows_its_id(db):
    result = whoami.enqueue()
    run_pending_tasks()
    row = only(whoami)
    assert row.status == TaskStatus.DONE
    assert row.return_value == [1, row.pk, result.id]
    assert taskqueue.current_task_id() is None  # only while a task runs


def test_a_failing_task_backs_off_then_is_dead_with_its_error(db, settings):
    settings.TASK_MAX_ATTEMPTS = 3
    settings.TASK_RETRY_BASE_SECONDS = 10
    always_fails.enqueue()
    delays = []
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        assert run_pending_tasks() == 1
    for attempt in (1, 2):
        row = only(always_fails)
        assert (row.status, row.attempts) == ("ready", attempt)
        assert row.last_error == "builtins.RuntimeError: no luck"
        assert 'raise RuntimeError("no luck")' in row.traceback
        delays.append((row.run_after - now).total_seconds())
        with time_machine.travel(row.run_after - timedelta(seconds=1), tick=False):
            assert run_pending_tasks() == 0  # not before its time
        now = row.run_after
        with time_machine.travel(now, tick=False):
            assert run_pending_tasks() == 1
    # 10 s then 20 s, each ±20 %.
    assert 8 <= delays[0] <= 12 and 16 <= delays[1] <= 24
    dead = only(always_fails)
    assert (dead.status, dead.attempts) == ("dead", 3)
    assert dead.finished_at == now
    assert dead.last_error == "builtins.RuntimeError: no luck"
    with time_machine.travel(now + timedelta(days=1), tick=False):
        assert run_pending_tasks() == 0  # dead stays dead
    result = always_fails.get_result(str(dead.pk))
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class is RuntimeError


def test_retry_delay_grows_is_capped_and_jittered(settings):
    settings.TASK_RETRY_BASE_SECONDS = 30
    settings.TASK_RETRY_MAX_SECONDS = 3600
    firsts = {taskqueue.retry_delay(1).total_seconds() for _ in range(50)}
    assert all(24 <= s <= 36 for s in firsts) and len(firsts) > 1
    assert 192 <= taskqueue.retry_delay(4).total_seconds() <= 288
    assert taskqueue.retry_delay(30).total_seconds() <= 3600


def test_a_dropped_connection_is_a_retry_and_the_worker_goes_on(db):
    loses_the_database.enqueue()
    remember.enqueue("next")
    worker = BackgroundWorker(worker_id="w")
    worker._last_schedule = time.monotonic()
    assert worker.tick() == 2
    row = only(loses_the_database)
    assert (row.status, row.attempts) == ("ready", 1)
    assert row.last_error.startswith("django.db.utils.OperationalError: server closed")
    assert _seen == [("next", {})]


def test_a_task_whose_code_is_gone_ends_dead(db, settings):
    settings.TASK_MAX_ATTEMPTS = 1
    BackgroundTask.objects.create(task_path="mainspring.gone.tasks.vanished")
    assert run_pending_tasks() == 1
    row = BackgroundTask.objects.get()
    assert row.status == TaskStatus.DEAD
    assert row.last_error.startswith("builtins.ModuleNotFoundError")


def test_a_return_value_that_is_not_json_is_kept_as_text(db):
    returns_a_set.enqueue()
    run_pending_tasks()
    assert only(returns_a_set).return_value == "{1, 2}"


# -- leases and fencing ------------------------------------------------------------------
def test_claims_take_each_row_once_and_lease_it(db, settings):
    settings.TASK_LEASE_SECONDS = 60
    remember.enqueue("one")
    now = timezone.now()
    row = taskqueue.claim("w1", now=now)
    assert (row.status, row.attempts, row.worker_id) == ("running", 1, "w1")
    assert row.lease_expires_at == now + timedelta(seconds=60)
    assert taskqueue.claim("w2", now=now) is None


def test_a_late_worker_cannot_overwrite_a_reclaimed_row(db, settings):
    settings.TASK_LEASE_SECONDS = 30
    remember.enqueue("once")
    start = timezone.now()
    late = taskqueue.claim("late", now=start)
    # "late" stops renewing (a long GC pause, a network cut); its lease runs out.
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert taskqueue.reclaim_expired() == 1
        reclaimed = only(remember)
        assert (reclaimed.status, reclaimed.attempts) == ("ready", 1)
        assert "worker late stopped renewing its lease on attempt 1" in reclaimed.last_error
        fresh = taskqueue.claim("fresh")
    assert (fresh.attempts, fresh.worker_id) == (2, "fresh")

    # The late worker wakes up and finishes: nothing it records sticks.
    assert taskqueue.run(late, keep_lease=False) == "lost"
    assert taskqueue.record_failure(late, RuntimeError("late")) == "lost"
    row = only(remember)
    assert (row.status, row.worker_id, row.attempts) == ("running", "fresh", 2)
    assert row.return_value is None

    assert taskqueue.run(fresh, keep_lease=False) == "done"
    row = only(remember)
    assert (row.status, row.worker_id, row.return_value) == ("done", "fresh", "once")
    assert row.worker_ids == ["late", "fresh"]


def test_expired_leases_go_back_to_ready_or_to_the_dead_letters(db, settings):
    settings.TASK_LEASE_SECONDS = 10
    settings.TASK_MAX_ATTEMPTS = 2
    for label in ("retry", "last", "alive"):
        remember.enqueue(label)
    start = timezone.now()
    retry = taskqueue.claim("w1", now=start)
    last = taskqueue.claim("w2", now=start)
    BackgroundTask.objects.filter(pk=last.pk).update(attempts=2)  # already its 2nd try
    alive = taskqueue.claim("w3", now=start + timedelta(seconds=5))

    with time_machine.travel(start + timedelta(seconds=11), tick=False):
        assert taskqueue.reclaim_expired() == 2
        now = timezone.now()
    rows = {r.pk: r for r in BackgroundTask.objects.all()}
    assert (rows[retry.pk].status, rows[retry.pk].run_after) == ("ready", now)
    assert rows[last.pk].status == "dead" and rows[last.pk].finished_at == now
    assert rows[last.pk].last_error == (
        "mainspring.core.taskqueue.WorkerLost: worker w2 stopped renewing its lease on "
        "attempt 2 (killed, crashed or cut off from the database)"
    )
    assert rows[alive.pk].status == "running"


@pytest.mark.django_db(transaction=True)
def test_a_running_worker_keeps_its_lease(settings):
    settings.TASK_LEASE_SECONDS = 1
    outlasts_its_lease.enqueue(1.6)
    assert run_pending_tasks(worker_id="busy") == 1
    row = only(outlasts_its_lease)
    assert (row.status, row.attempts) == ("done", 1)
    assert row.return_value["reclaimed"] == 0
    assert row.return_value["held_for"] > 1.5  # longer than the lease...
    assert row.return_value["lease_left"] > 0  # ...which the keeper renewed


# -- the dead-letter list, pruning ------------------------------------------------------
def make_row(status: str, finished_days_ago: float | None = None, **fields) -> BackgroundTask:
    finished = None
    if finished_days_ago is not None:
        finished = timezone.now() - timedelta(days=finished_days_ago)
    return BackgroundTask.objects.create(
        task_path=remember.module_path, args=["x"], status=status, finished_at=finished, **fields
    )


def test_prune_removes_old_done_rows_only(db, settings):
    settings.TASK_KEEP_DONE_DAYS = 7
    old_done = [make_row("done", 8) for _ in range(5)]
    recent = make_row("done", 6)
    old_dead = make_row("dead", 400, attempts=8, last_error="x")
    waiting = make_row("ready")

    assert taskqueue.prune_done(batch=2) == 5
    left = set(BackgroundTask.objects.values_list("pk", flat=True))
    assert left == {recent.pk, old_dead.pk, waiting.pk}
    assert not left & {r.pk for r in old_done}
    assert "prune_finished_tasks" in registry


def test_dead_count_stops_at_the_cap(db):
    for _ in range(4):
        make_row("dead", 1)
    make_row("done", 1)
    assert taskqueue.dead_count() == 4
    assert taskqueue.dead_count(cap=3) == 3


def test_run_again_gives_dead_tasks_fresh_attempts(db, admin, agent):
    dead = make_row("dead", 1, attempts=8, last_error="boom", worker_id="w9")
    done = make_row("done", 1, attempts=1)
    everything = BackgroundTask.objects.all()
    with pytest.raises(Forbidden):
        taskqueue.run_again(everything, by=agent)
    assert BackgroundTask.objects.get(pk=dead.pk).status == "dead"

    assert taskqueue.run_again(everything, by=admin) == 1
    again = BackgroundTask.objects.get(pk=dead.pk)
    assert (again.status, again.attempts, again.worker_id, again.finished_at) == (
        "ready",
        0,
        "",
        None,
    )
    assert again.last_error == "boom"  # kept until the next outcome
    assert BackgroundTask.objects.get(pk=done.pk).status == "done"
    assert run_pending_tasks() == 1
    assert BackgroundTask.objects.get(pk=dead.pk).status == "done"


# -- upgrading from django-tasks-db ------------------------------------------------------
def test_queued_rows_of_the_old_backend_are_carried_over(db):
    migration = importlib.import_module("mainspring.core.migrations.0007_background_tasks")
    table = connection.ops.quote_name(migration.OLD_TABLE)
    pg = connection.vendor == "postgresql"
    ts, js = ("timestamp with time zone", "jsonb") if pg else ("datetime", "text")
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {table} (id varchar(36) PRIMARY KEY, status varchar(10), "
            f"args_kwargs {js}, priority integer, task_path text, queue_name varchar(32), "
            f"enqueued_at {ts}, run_after {ts})"
        )
    t0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    never = datetime(9999, 1, 1, tzinfo=UTC)

    def when(value: datetime):
        return value if pg else value.strftime("%Y-%m-%d %H:%M:%S.%f")

    rows = [
        ("a", "READY", {"args": ["k1"], "kwargs": {}}, 0, t0, never),
        ("b", "RUNNING", {"args": [], "kwargs": {"x": 1}}, 5, t0, t0 + timedelta(hours=1)),
        ("c", "SUCCESSFUL", {"args": [], "kwargs": {}}, 0, t0, never),
        ("d", "FAILED", {"args": [], "kwargs": {}}, 0, t0, never),
    ]
    cast = "::jsonb" if pg else ""
    with connection.cursor() as cursor:
        for pk, status, args_kwargs, priority, enqueued, run_after in rows:
            cursor.execute(
                f"INSERT INTO {table} VALUES (%s, %s, %s{cast}, %s, %s, %s, %s, %s)",  # noqa: S608
                [
                    pk,
                    status,
                    json.dumps(args_kwargs),
                    priority,
                    remember.module_path,
                    "default",
                    when(enqueued),
                    when(run_after),
                ],
            )
    before = BackgroundTask.objects.aggregate(m=Max("pk"))["m"] or 0

    from django.apps import apps

    migration.carry_over_queued_tasks(apps, types.SimpleNamespace(connection=connection))

    carried = list(BackgroundTask.objects.filter(pk__gt=before).order_by("priority"))
    assert [(r.args, r.kwargs, r.priority, r.status) for r in carried] == [
        (["k1"], {}, 0, "ready"),
        ([], {"x": 1}, 5, "ready"),
    ]
    assert carried[0].run_after == t0  # "no run_after" (year 9999) runs now
    assert carried[1].run_after == t0 + timedelta(hours=1)
    assert all(r.enqueued_at == t0 for r in carried)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")
