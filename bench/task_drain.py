"""How fast one worker drains the task queue: the runner's own cost per task.

Enqueues N cheap tasks (``core.tasks.forget_stale_presence``: one indexed DELETE that
finds nothing) in one transaction, then times one ``BackgroundWorker`` running them:
claim, lease keeper, the task, the fenced completion, and the connection check between
tasks. Heartbeats, periodic scheduling and lease reclaims are held off so only the
per-task path is measured. Run against a throw-away database (bench/README.md):

    .venv/bin/python bench/task_drain.py --tasks 2000
"""

from __future__ import annotations

import argparse
import os
import time

import django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000, help="tasks to enqueue and run")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mainspring.settings")
    django.setup()
    from django.db import connection, transaction

    from mainspring.core.tasks import forget_stale_presence
    from mainspring.core.worker import BackgroundWorker

    with transaction.atomic():
        for _ in range(args.tasks):
            forget_stale_presence.enqueue()
    worker = BackgroundWorker(worker_id="bench-drain")
    worker.tasks_per_tick = args.tasks + 10
    later = time.monotonic() + 1e9
    worker._last_schedule = worker._last_heartbeat = worker._last_reclaim = later
    started = time.perf_counter()
    ran = 0
    while ran < args.tasks:
        ran += worker.tick()
    elapsed = time.perf_counter() - started
    print(
        f"{connection.vendor}: {ran} tasks in {elapsed:.2f} s: {ran / elapsed:.0f} tasks/s, "
        f"{1000 * elapsed / ran:.2f} ms each"
    )


if __name__ == "__main__":
    main()
