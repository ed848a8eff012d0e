"""SLA background work: the escalation sweep (every minute) and timer recomputes."""

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


@task()
def recompute_sla_timers(job_id: int, after_id: int = 0, last_id: int | None = None) -> int:
    """Apply an edited SLA or calendar to its running timers (``SlaRecompute`` job).

    A long job runs as a chain of these tasks (``after_id`` / ``last_id`` say where the
    previous one stopped), so other tasks run in between.
    """
    from .recompute import run_recompute

    return run_recompute(job_id, after_id=after_id, last_id=last_id)
