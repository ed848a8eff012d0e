"""Bring timers written before the breach-moment rule (docs/sla.md, "The breach moment")
in line with it.

* A running timer that has not breached is due for the sweep at its deadline at the
  latest (``next_threshold_at``), so the breach is recorded even without a 100 %
  threshold.
* A timer put on hold after its budget ran out, before the sweep noticed, was left
  ``paused`` and unbreached. It is breached at the instant the budget ran out, worked
  back from its hold (the ticket's last change into one of its pause states, from the
  audit trail): the instant from which the business time to the hold equals what it
  overran. Without that audit entry it is left for its stop to record.
"""

from django.db import migrations
from django.db.models import F

US = 1_000_000


def _ran_out(spec, since_us: int, held_us: int, over_us: int) -> int:
    """The first instant t in [since, held] with business time [t, held) <= over."""
    from mainspring.sla.calendar import between_us

    lo, hi = since_us, held_us
    while lo < hi:
        mid = (lo + hi) // 2
        if between_us(spec, mid, held_us) <= over_us:
            hi = mid
        else:
            lo = mid + 1
    return lo


def record_breaches(apps, schema_editor):
    from mainspring.sla.calendar import _from_us, _to_us, spec_for

    SlaTimer = apps.get_model("sla", "SlaTimer")
    AuditEntry = apps.get_model("core", "AuditEntry")
    Ticket = apps.get_model("core", "Ticket")

    running = SlaTimer.objects.filter(
        stopped_at__isnull=True,
        running_since__isnull=False,
        breached_at__isnull=True,
        breach_at__isnull=False,
    ).exclude(state="cancelled")
    running.filter(next_threshold_at__isnull=True).update(next_threshold_at=F("breach_at"))
    running.filter(next_threshold_at__gt=F("breach_at")).update(next_threshold_at=F("breach_at"))

    held = SlaTimer.objects.filter(
        stopped_at__isnull=True,
        running_since__isnull=True,
        breached_at__isnull=True,
        state="paused",
    )
    tickets = set()
    for timer in held.iterator():
        over = timer.banked_us - timer.duration_seconds * US
        if over < 0:
            continue
        hold = (
            AuditEntry.objects.filter(
                ticket_id=timer.ticket_id,
                field="state",
                new_value__in=list(timer.pause_states),
                created_at__gte=timer.started_at,
            )
            .order_by("-created_at", "-id")
            .values_list("created_at", flat=True)
            .first()
        )
        if hold is None:
            continue
        spec = spec_for(timer.calendar_config)
        at = _from_us(_ran_out(spec, _to_us(timer.started_at), _to_us(hold), over))
        SlaTimer.objects.filter(pk=timer.pk).update(
            state="breached", breached_at=at, breach_at=at, at_risk_at=at
        )
        tickets.add(timer.ticket_id)
    # The ticket row's soonest running deadline now includes these breaches.
    for ticket_id in sorted(tickets):
        open_timers = SlaTimer.objects.filter(
            ticket_id=ticket_id, stopped_at__isnull=True, breach_at__isnull=False
        ).exclude(state="cancelled")
        breach = min((t.breach_at for t in open_timers), default=None)
        risk = min((t.at_risk_at for t in open_timers if t.at_risk_at), default=None)
        Ticket.objects.filter(pk=ticket_id).update(sla_breach_at=breach, sla_at_risk_at=risk)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_sla_deadlines"),
        ("sla", "0004_report_index"),
    ]

    operations = [migrations.RunPython(record_breaches, migrations.RunPython.noop)]
