"""Periodic jobs (auto-close, later SLA sweeps and mail polling), run by the workers.

A job is a task plus an interval. Every worker checks the schedule; the one whose
conditional UPDATE moves ``next_run_at`` forward enqueues the task, so with any number
of workers each run is enqueued once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import PeriodicRun

__all__ = ["PeriodicJob", "enqueue_due_jobs", "periodic", "registry"]


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    task: object  # a django_tasks Task


registry: dict[str, PeriodicJob] = {}


def periodic(every: timedelta):
    """Decorator for a task: run it every ``every`` on some worker."""

    def register(task):
        registry[task.name] = PeriodicJob(task.name, every, task)
        return task

    return register


def enqueue_due_jobs(now=None) -> list[str]:
    """Enqueue each job whose time has come; returns the names enqueued."""
    now = now or timezone.now()
    enqueued = []
    for job in registry.values():
        run = PeriodicRun.objects.filter(name=job.name).first()
        if run is None:
            try:
                # A savepoint, so losing the race to another worker leaves any
                # surrounding transaction usable.
                with transaction.atomic():
                    PeriodicRun.objects.create(name=job.name, next_run_at=now)
            except IntegrityError:
                pass
            run = PeriodicRun.objects.get(name=job.name)
        if run.next_run_at > now:
            continue
        # The claim and the task row commit together: a crash between them can
        # neither lose this run nor enqueue it twice.
        with transaction.atomic():
            claimed = PeriodicRun.objects.filter(name=job.name, next_run_at=run.next_run_at).update(
                next_run_at=now + job.every, last_run_at=now
            )
            if claimed:
                job.task.enqueue()
                enqueued.append(job.name)
    return enqueued
