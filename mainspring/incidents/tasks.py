"""Periodic incident work, run by the background workers (core.periodic)."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from mainspring.core.periodic import periodic

from . import services


@periodic(every=timedelta(hours=1))
@task()
def auto_close_resolved_incidents() -> int:
    """Close incidents resolved more than INCIDENT_AUTO_CLOSE_DAYS ago."""
    return services.auto_close_resolved()
