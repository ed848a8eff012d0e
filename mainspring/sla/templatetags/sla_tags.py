"""``{% sla_timers ticket %}``: a ticket's SLA timers with business time left."""

from __future__ import annotations

from django import template
from django.utils import timezone

from ..models import SlaTimer, TimerState
from ..services import remaining_seconds

register = template.Library()

_COLOURS = {
    TimerState.IN_PROGRESS: "blue",
    TimerState.PAUSED: "purple",
    TimerState.MET: "green",
    TimerState.BREACHED: "red",
    TimerState.CANCELLED: "grey",
}


def short_duration(seconds: int) -> str:
    """1–2 units, e.g. '2 h 05 min', '3 d 4 h', '45 s'; negative means overdue."""
    sign = "−" if seconds < 0 else ""
    s = abs(int(seconds))
    days, rest = divmod(s, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = f"{days} d {hours} h"
    elif hours:
        text = f"{hours} h {minutes:02d} min"
    elif minutes:
        text = f"{minutes} min"
    else:
        text = f"{s} s"
    return sign + text


def describe(timer: SlaTimer, now) -> dict:
    """One timer for display: colour, state in words, time left in 1–2 units."""
    left = remaining_seconds(timer, now)
    colour = _COLOURS[timer.state]
    running = timer.state == TimerState.IN_PROGRESS
    label = timer.get_state_display()
    if running and left < 0:
        colour, label = "red", "Breached"  # before the sweep has recorded it
    elif running and left <= timer.duration_seconds // 4:
        colour, label = "amber", "At risk"  # the last quarter
    return {
        "timer": timer,
        "colour": colour,
        "state_label": label,
        "left": short_duration(left),
        "overdue": left < 0,
    }


@register.inclusion_tag("sla/_ticket_timers.html")
def sla_timers(ticket) -> dict:
    now = timezone.now()
    timers = SlaTimer.objects.filter(ticket_id=ticket.pk).exclude(state=TimerState.CANCELLED)
    return {"rows": [describe(timer, now) for timer in timers]}
