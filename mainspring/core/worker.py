"""The background worker: runs queued tasks, enqueues periodic jobs, reports heartbeats.

Tasks are ``core.BackgroundTask`` rows written in the same transaction as the change
that caused them (``core.taskqueue``). This loop reclaims the rows of workers that died
(their lease expired), claims due rows one at a time and runs them, renewing the lease
from a second thread while a task runs. Any number of workers can share one database
and no task runs on two of them at once. A task that raises is retried with backoff, or
dead-lettered; a dropped database connection is closed and the loop goes on.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from datetime import timedelta

from django.db import close_old_connections, connections
from django.utils import timezone
from django.utils.crypto import get_random_string

from . import taskqueue
from .models import WorkerHeartbeat
from .periodic import enqueue_due_jobs

log = logging.getLogger(__name__)

__all__ = ["BackgroundWorker", "run_pending_tasks"]


def close_stale_connections() -> None:
    """``close_old_connections``, except inside a transaction the caller holds open.

    A worker never runs inside a transaction, but ``run_pending_tasks`` in a test (or a
    shell) does, and closing there would throw away the caller's uncommitted work.
    """
    if any(conn.in_atomic_block for conn in connections.all(initialized_only=True)):
        return
    close_old_connections()


def _in_atomic_block() -> bool:
    return any(conn.in_atomic_block for conn in connections.all(initialized_only=True))


def run_pending_tasks(max_tasks: int | None = None, worker_id: str = "inline") -> int:
    """Run the tasks that are due until none is left (tests and ``worker --batch``).

    Returns how many ran. Tasks deferred to a later ``run_after`` (retries) wait. Inside
    a transaction the caller holds (a test), no lease thread runs: another connection
    could not see the uncommitted rows anyway.
    """
    taskqueue.reclaim_expired()
    keep_lease = not _in_atomic_block()
    ran = 0
    while max_tasks is None or ran < max_tasks:
        row = taskqueue.claim(worker_id)
        if row is None:
            break
        taskqueue.run(row, keep_lease=keep_lease)
        ran += 1
        close_stale_connections()
    return ran


class BackgroundWorker:
    """One worker loop; ``serve`` runs it in a thread, ``worker`` in the foreground."""

    heartbeat_every = 15.0
    schedule_every = 10.0
    tasks_per_tick = 50

    def __init__(self, interval: float = 1.0, worker_id: str | None = None):
        self.interval = interval
        self.worker_id = (worker_id or f"{socket.gethostname()[:40]}-{get_random_string(8)}")[:64]
        self.stop_event = threading.Event()
        self._last_heartbeat = float("-inf")
        self._last_schedule = float("-inf")
        self._last_reclaim = float("-inf")
        self._thread: threading.Thread | None = None

    @property
    def reclaim_every(self) -> float:
        # Often enough that a dead worker's task waits little longer than its lease.
        return max(0.5, min(5.0, taskqueue.lease_seconds() / 2))

    def heartbeat(self) -> None:
        now = timezone.now()
        WorkerHeartbeat.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={"hostname": socket.gethostname()[:255], "seen_at": now},
        )
        # Workers killed without a goodbye (or --batch runs) leave rows; keep a day.
        WorkerHeartbeat.objects.filter(seen_at__lt=now - timedelta(days=1)).delete()

    def tick(self) -> int:
        """One round: heartbeat, schedule and reclaim when due, then run what is queued."""
        now = time.monotonic()
        if now - self._last_heartbeat >= self.heartbeat_every:
            self.heartbeat()
            self._last_heartbeat = now
        if now - self._last_schedule >= self.schedule_every:
            enqueue_due_jobs()
            self._last_schedule = now
        if now - self._last_reclaim >= self.reclaim_every:
            taskqueue.reclaim_expired()
            self._last_reclaim = now
        ran = 0
        while ran < self.tasks_per_tick and not self.stop_event.is_set():
            row = taskqueue.claim(self.worker_id)
            if row is None:
                break
            taskqueue.run(row)
            ran += 1
            # Only what a failure broke: closing by age after every task would make
            # SQLite (CONN_MAX_AGE 0) reconnect, and checkpoint its WAL, per task.
            # ``run`` checks the age around each tick.
            taskqueue.drop_broken_connections()
        return ran

    def run(self) -> None:
        log.info("Worker %s started", self.worker_id)
        try:
            while not self.stop_event.is_set():
                ran = 0
                try:
                    close_stale_connections()
                    ran = self.tick()
                except Exception:
                    # A database blip must not kill the worker; it retries next tick.
                    log.exception("Worker tick failed; retrying")
                finally:
                    close_stale_connections()
                if not ran:
                    self.stop_event.wait(self.interval)
        finally:
            try:
                WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete()
            except Exception:
                log.warning("Could not remove the heartbeat of worker %s", self.worker_id)
            # The loop's own connections die with it: a thread that ends leaves an open
            # connection behind otherwise (healthy ones are kept for CONN_MAX_AGE).
            if not any(c.in_atomic_block for c in connections.all(initialized_only=True)):
                connections.close_all()
            log.info("Worker %s stopped", self.worker_id)

    def start_thread(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name="mainspring-worker", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = None) -> None:
        """Finish the task in hand, then stop (and wait for the thread, if any)."""
        self.stop_event.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the loop after the current task (foreground only)."""

        def handle(signum, frame):
            log.info("Received %s; stopping after the current task", signal.strsignal(signum))
            self.stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
