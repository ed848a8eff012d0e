"""Nothing lost in background work: real worker processes killed and cut off mid-task.

Each test runs ``mainspring worker`` subprocesses against this test's database (SQLite
or PostgreSQL) with a 2-second lease, and checks that every task ends done exactly once
or dead-lettered with its attempts, never silently gone.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from django.db import connection

from mainspring.core.models import BackgroundTask, TaskStatus, WorkerHeartbeat
from mainspring.identity.models import Role
from mainspring.notifications.models import Delivery, DeliveryStatus
from tests.factories import UserFactory, make_incident
from tests.task_support import (
    effect_then_hold,
    effects,
    hold_in_transaction,
    kill,
    quick_effect,
    runs,
    start_worker,
    stop,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def procs():
    """Worker processes started by a test; all stopped (and reaped) at its end."""
    started = []
    yield started
    for proc in started:
        stop(proc, timeout=15)


def row(result) -> BackgroundTask:
    return BackgroundTask.objects.get(pk=int(result.id))


def test_a_worker_killed_mid_task_leaves_it_to_another_that_runs_it_once(tmp_path, procs):
    env = worker_env(tmp_path)
    log = tmp_path / "runs.log"
    result = effect_then_hold.enqueue("k1", str(log), 60)
    first = start_worker(env, "first", tmp_path / "first.out")
    procs.append(first)

    wait_until(lambda: runs(log), 30, "the first run to start")
    # The effect has committed; the task has not finished. Kill the worker now.
    kill(first)
    killed = row(result)
    assert (killed.status, killed.attempts, killed.worker_id) == ("running", 1, "first")

    second = start_worker(env, "second", tmp_path / "second.out")
    procs.append(second)
    wait_until(lambda: row(result).status == TaskStatus.DONE, 30, "the task to be done")

    done = row(result)
    assert done.attempts == 2
    assert done.worker_id == "second"
    assert done.worker_ids == ["first", "second"]
    assert done.return_value == "k1"
    assert "WorkerLost: worker first stopped renewing its lease on attempt 1" in done.last_error
    assert [attempt for attempt, _, _ in runs(log)] == [1, 2]  # ran twice...
    assert effects("k1") == 1  # ...took effect once


def test_a_worker_killed_on_the_last_attempt_dead_letters_the_task(tmp_path, procs):
    env = worker_env(tmp_path, task_max_attempts=1)
    log = tmp_path / "runs.log"
    result = effect_then_hold.enqueue("k2", str(log), 60)
    first = start_worker(env, "first", tmp_path / "first.out")
    procs.append(first)
    wait_until(lambda: runs(log), 30, "the first run to start")
    kill(first)

    procs.append(start_worker(env, "second", tmp_path / "second.out"))
    wait_until(lambda: row(result).status == TaskStatus.DEAD, 30, "the task to be dead")

    dead = row(result)
    assert dead.attempts == 1
    assert dead.finished_at is not None
    assert dead.last_error.startswith("mainspring.core.taskqueue.WorkerLost: worker first")
    assert len(runs(log)) == 1  # not run again: its attempts were used up
    assert effects("k2") == 1


def test_sigterm_lets_the_task_in_hand_finish(tmp_path, procs):
    env = worker_env(tmp_path)
    log = tmp_path / "runs.log"
    result = effect_then_hold.enqueue("k3", str(log), 1.5)
    worker = start_worker(env, "graceful", tmp_path / "graceful.out")
    procs.append(worker)
    wait_until(lambda: runs(log), 30, "the run to start")

    assert stop(worker) == 0
    finished = row(result)
    assert (finished.status, finished.attempts) == ("done", 1)
    output = (tmp_path / "graceful.out").read_text()
    assert "Traceback" not in output, output


@pytest.mark.postgres
def test_a_connection_cut_mid_task_is_retried_and_the_worker_lives_on(tmp_path, procs):
    env = worker_env(tmp_path)
    log = tmp_path / "runs.log"
    result = hold_in_transaction.enqueue("k4", str(log), 60)
    worker = start_worker(env, "cut", tmp_path / "cut.out")
    procs.append(worker)
    ((_, _, backend_pid),) = wait_until(lambda: runs(log), 30, "the run to start")

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [backend_pid])
        assert cursor.fetchone()[0] is True

    wait_until(lambda: row(result).status == TaskStatus.DONE, 30, "the retried task")
    done = row(result)
    assert done.attempts == 2
    assert done.worker_ids == ["cut", "cut"]  # the same process, still alive
    assert "OperationalError" in done.last_error or "InterfaceError" in done.last_error
    ((first, _, old_pid), (second, _, new_pid)) = runs(log)
    assert (first, second) == (1, 2)
    assert new_pid != old_pid  # it reconnected
    assert effects("k4") == 1  # the cut transaction's effect rolled back; the retry's held
    assert worker.poll() is None
    # And it goes on working.
    after = quick_effect.enqueue("k5")
    wait_until(lambda: row(after).status == TaskStatus.DONE, 30, "the next task")


class Inbox:
    """An SMTP server's mailbox, a little slow per message (so kills land mid-send)."""

    def __init__(self) -> None:
        self.messages: list = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        await asyncio.sleep(0.1)
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(msg)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_100_creates_with_10_worker_kills_mail_every_ticket_once(tmp_path, procs, smtp):
    inbox, port = smtp
    seed = random.randrange(1_000_000)
    rnd = random.Random(seed)
    print(f"seed={seed}")
    env = worker_env(
        tmp_path,
        email_backend="django.core.mail.backends.smtp.EmailBackend",
        email_host="127.0.0.1",
        email_port=port,
        email_timeout=5,
    )
    requester = UserFactory(username="alice", email="alice@example.test", role=Role.REQUESTER)
    agent = UserFactory(username="agent", role=Role.AGENT)
    workers = [start_worker(env, f"w{i}-0", tmp_path / f"w{i}.out") for i in (0, 1)]
    procs.extend(workers)
    wait_until(
        lambda: WorkerHeartbeat.objects.filter(worker_id__in=["w0-0", "w1-0"]).count() == 2,
        60,
        "both workers to start",
    )

    def running_on(worker_id: str) -> list[int]:
        return list(
            BackgroundTask.objects.filter(
                status=TaskStatus.RUNNING, worker_id=worker_id
            ).values_list("pk", flat=True)
        )

    numbers, worker_ids, cut_short = [], ["w0-0", "w1-0"], []
    started = time.monotonic()
    for kill_no in range(1, 11):
        for _ in range(10):
            numbers.append(make_incident(by=agent, requester=requester).number)
        # Kills should land mid-task: a random worker among those holding a task now
        # (waiting a little for one to), at a random moment of it.
        deadline = time.monotonic() + 2
        busy = []
        while not busy and time.monotonic() < deadline:
            busy = [i for i in (0, 1) if running_on(worker_ids[i])]
            time.sleep(0.005)
        victim = rnd.choice(busy or [0, 1])
        time.sleep(rnd.uniform(0.0, 0.05))
        kill(workers[victim])
        cut_short += running_on(worker_ids[victim])  # what it held when it died
        worker_ids[victim] = f"w{victim}-{kill_no}"
        workers[victim] = start_worker(env, worker_ids[victim], tmp_path / f"w{victim}.out")
        procs.append(workers[victim])

    def all_sent() -> bool:
        return Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 100

    wait_until(all_sent, 120, "every delivery to be sent", step=0.2)
    wait_until(
        lambda: not BackgroundTask.objects.exclude(status=TaskStatus.DONE).exists(),
        120,
        "every task to be done",
        step=0.2,
    )
    for proc in workers:
        assert stop(proc) == 0

    deliveries = {d.pk: d for d in Delivery.objects.all()}
    assert len(deliveries) == 100
    assert {d.ticket.number for d in deliveries.values()} == set(numbers)
    assert all(d.status == DeliveryStatus.SENT for d in deliveries.values())
    with inbox.lock:
        received = list(inbox.messages)
    assert {m["X-Mainspring-Ticket"] for m in received} == set(numbers)
    # The Message-ID names the delivery; a copy on the wire beyond the first needs a
    # send attempt of its own (a worker killed after the server accepted the mail).
    copies = Counter(int(m["Message-ID"].split(".")[1]) for m in received)
    assert set(copies) == set(deliveries)
    for pk, n in copies.items():
        assert n <= deliveries[pk].attempts, (pk, n, deliveries[pk].attempts)
    writes = BackgroundTask.objects.filter(task_path__endswith="write_event_deliveries")
    assert writes.count() == 100
    assert not BackgroundTask.objects.filter(status=TaskStatus.DEAD).exists()
    # The kills did land mid-task, and what they cut short ran again to the end.
    assert cut_short, "no kill landed while a task ran"
    for task in BackgroundTask.objects.filter(pk__in=cut_short):
        assert task.status == TaskStatus.DONE and task.attempts >= 2, task
    print(
        f"{time.monotonic() - started:.1f}s; kills mid-task: {len(cut_short)}; duplicate mails: "
        f"{sum(copies.values()) - 100}; deliveries sent more than once: "
        f"{sum(1 for d in deliveries.values() if d.attempts > 1)}"
    )
