"""``mainspring worker``: run background tasks and periodic jobs until stopped.

Run as many as you like, on any machines that reach the same PostgreSQL: tasks are
claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` and leased (``core.taskqueue``), and
periodic runs with a conditional update, so no two workers run the same task at once and
a killed worker's task runs again once its lease lapses. SIGTERM/SIGINT stop it after
the task in hand. ``--batch`` runs what is due and exits (cron, tests, one-off catch-up).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from mainspring.core.periodic import enqueue_due_jobs
from mainspring.core.worker import BackgroundWorker, run_pending_tasks


class Command(BaseCommand):
    help = "Run the background task worker (tasks, periodic jobs, heartbeat)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="Seconds to wait when nothing is queued (default 1).",
        )
        parser.add_argument(
            "--batch",
            action="store_true",
            help="Enqueue due periodic jobs, run everything queued, then exit.",
        )
        parser.add_argument("--worker-id", default=None, help="Unique id (default: generated).")

    def handle(self, *args, interval: float, batch: bool, worker_id: str | None, **options):
        if interval < 0:
            interval = 0.0
        worker = BackgroundWorker(interval=interval, worker_id=worker_id)
        if batch:
            worker.heartbeat()
            due = enqueue_due_jobs()
            ran = run_pending_tasks(worker_id=worker.worker_id)
            self.stdout.write(f"Enqueued {len(due)} periodic job(s); ran {ran} task(s).")
            return
        worker.install_signal_handlers()
        self.stdout.write(f"Worker {worker.worker_id} running; Ctrl+C or SIGTERM stops it.")
        self.stdout.flush()
        worker.run()
        self.stdout.write(f"Worker {worker.worker_id} stopped.")
