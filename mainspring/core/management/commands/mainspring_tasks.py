"""``mainspring tasks``: the dead-letter list of background tasks, and running them again.

    mainspring tasks                    # the dead tasks, newest first
    mainspring tasks --status ready     # what waits (ready), runs, or is done
    mainspring tasks --show ID          # one task with its arguments and traceback
    mainspring tasks --retry ID [ID..]  # run these dead tasks again
    mainspring tasks --retry-dead       # run every dead task again (--task narrows it)

Running again gives a dead task a fresh set of attempts; tasks are idempotent, so a
task that did part of its work before it died does no harm running again.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.text import Truncator

from mainspring.core import taskqueue
from mainspring.core.models import BackgroundTask, TaskStatus


class Command(BaseCommand):
    help = "List dead (or other) background tasks; run dead ones again."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--status",
            choices=TaskStatus.values,
            default=TaskStatus.DEAD,
            help="Which tasks to list (default: dead).",
        )
        parser.add_argument("--task", help="Only this task (its name or dotted path).")
        parser.add_argument("--limit", type=int, default=50, help="At most this many (50).")
        parser.add_argument("--show", type=int, metavar="ID", help="Show one task in full.")
        parser.add_argument(
            "--retry", type=int, nargs="+", metavar="ID", help="Run these dead tasks again."
        )
        parser.add_argument("--retry-dead", action="store_true", help="Run every dead task again.")

    def handle(self, *args, status, task, limit, show, retry, retry_dead, **options):
        tasks = BackgroundTask.objects.all()
        if task:
            tasks = tasks.filter(task_path=task) if "." in task else self._named(tasks, task)
        if show is not None:
            return self._show(show)
        if retry or retry_dead:
            if retry:
                found = dict(tasks.filter(pk__in=retry).values_list("pk", "status"))
                missing = sorted(set(retry) - set(found))
                not_dead = sorted(pk for pk, st in found.items() if st != TaskStatus.DEAD)
                if missing:
                    self.stderr.write(f"No such task: {', '.join(map(str, missing))}")
                if not_dead:
                    self.stderr.write(f"Not dead, left alone: {', '.join(map(str, not_dead))}")
                tasks = tasks.filter(pk__in=retry)
            count = taskqueue.run_again(tasks)
            self.stdout.write(f"{count} dead task(s) will run again.")
            return None
        rows = list(tasks.filter(status=status).order_by("-id")[: max(1, limit)])
        if not rows:
            self.stdout.write(f"No {status} tasks.")
            return None
        self.stdout.write(f"{'ID':>8}  {'TASK':<32} {'TRIES':>5}  {'WHEN':<20} LAST ERROR")
        for row in rows:
            when = row.finished_at or row.started_at or row.run_after
            self.stdout.write(
                f"{row.pk:>8}  {row.task_name[:32]:<32} {row.attempts:>5}  "
                f"{when:%Y-%m-%d %H:%M:%S}  {Truncator(row.last_error).chars(100)}"
            )
        if len(rows) == limit:
            self.stdout.write(f"(the newest {limit}; --limit shows more)")
        return None

    @staticmethod
    def _named(tasks, name: str):
        paths = [p for p in taskqueue.known_tasks() if p.rsplit(".", 1)[-1] == name]
        if not paths:
            raise CommandError(f"No task is named {name!r}.")
        return tasks.filter(task_path__in=paths)

    def _show(self, pk: int) -> None:
        row = BackgroundTask.objects.filter(pk=pk).first()
        if row is None:
            raise CommandError(f"No task {pk}.")
        for name in (
            "task_path",
            "status",
            "attempts",
            "enqueued_at",
            "run_after",
            "started_at",
            "finished_at",
            "worker_id",
            "lease_expires_at",
            "worker_ids",
            "last_error",
        ):
            self.stdout.write(f"{name}: {getattr(row, name)}")
        self.stdout.write(f"args: {json.dumps(row.args)}")
        self.stdout.write(f"kwargs: {json.dumps(row.kwargs)}")
        if row.traceback:
            self.stdout.write("traceback:\n" + row.traceback)
