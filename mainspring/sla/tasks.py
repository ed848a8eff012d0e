"""The escalation sweep, run every minute by the workers (core.periodic)."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from mainspring.core.periodic import periodic

from . import services


@periodic(every=timedelta(minutes=1))
@task()
def sweep_sla_escalations() -> int:
    """Fire the SLA thresholds that are due (an indexed range scan)."""
    return services.sweep()
