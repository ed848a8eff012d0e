"""Background tasks for notifications (django-tasks; rows in the same transaction)."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from mainspring.core.periodic import periodic

from . import services


@task()
def write_event_deliveries(payloads: list[dict]) -> int:
    """Write the mail that ticket events call for and enqueue its sends (idempotent)."""
    return len(services.write_deliveries(payloads))


@task()
def send_delivery(key: str) -> str:
    """Send one queued e-mail; safe to run twice (the claim lets only one send)."""
    return services.deliver(key)


@periodic(every=timedelta(minutes=5))
@task()
def requeue_stalled_deliveries() -> int:
    """Pick up deliveries whose worker died mid-send or whose retry task was lost."""
    return services.requeue_stalled()
