"""The background worker: runs queued tasks, enqueues periodic jobs, reports heartbeats.

Tasks are rows written by django-tasks-db in the same transaction as the change that
caused them; this loop claims and runs them (``select_for_update(skip_locked)``
inside django-tasks-db), so any number of workers can share one PostgreSQL.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

from django.db import close_old_connections
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker

from .models import WorkerHeartbeat
from .periodic import enqueue_due_jobs

log = logging.getLogger(__name__)

__all__ = ["BackgroundWorker", "run_pending_tasks"]


def run_pending_tasks(max_tasks: int | None = None, worker_id: str = "inline") -> None:
    """Run queued tasks until none is left (tests and ``worker --batch``)."""
    Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id=worker_id,
        excluded_queue_names=[],
    ).run()


class BackgroundWorker:
    """One worker loop; ``serve`` runs it in a thread, ``worker`` in the foreground."""

    heartbeat_every = 15.0
    schedule_every = 10.0

    def __init__(self, interval: float = 1.0, worker_id: str | None = None):
        self.interval = interval
        self.worker_id = worker_id or f"{socket.gethostname()[:40]}-{get_random_string(8)}"
        self.stop_event = threading.Event()
        self._last_heartbeat = 0.0
        self._last_schedule = 0.0

    def heartbeat(self) -> None:
        WorkerHeartbeat.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={"hostname": socket.gethostname()[:255], "seen_at": timezone.now()},
        )

    def tick(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat >= self.heartbeat_every:
            self.heartbeat()
            self._last_heartbeat = now
        if now - self._last_schedule >= self.schedule_every:
            enqueue_due_jobs()
            self._last_schedule = now
        run_pending_tasks(max_tasks=100, worker_id=self.worker_id)

    def run(self) -> None:
        log.info("Worker %s started", self.worker_id)
        while not self.stop_event.is_set():
            try:
                close_old_connections()
                self.tick()
            except Exception:
                # A database blip must not kill the worker; it retries next tick.
                log.exception("Worker tick failed; retrying")
            finally:
                close_old_connections()
            self.stop_event.wait(self.interval)
        WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete()
        log.info("Worker %s stopped", self.worker_id)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="mainspring-worker", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stop_event.set()
