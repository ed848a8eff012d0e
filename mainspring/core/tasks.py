"""Periodic core housekeeping, run by the background workers (core.periodic)."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from . import services, taskqueue
from .periodic import periodic


@periodic(every=timedelta(hours=1))
@task()
def forget_stale_presence() -> int:
    """Drop "who has this ticket open" rows that no page refreshed for an hour."""
    return services.forget_stale_presence()


@periodic(every=timedelta(hours=1))
@task()
def prune_finished_tasks() -> int:
    """Delete done task rows older than TASK_KEEP_DONE_DAYS (dead ones are kept)."""
    return taskqueue.prune_done()
