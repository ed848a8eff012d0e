"""Demo SLAs: a Mon–Fri 08:00–18:00 calendar with public holidays, P1–P4 targets."""

from __future__ import annotations

from .models import BusinessCalendar, SlaDefinition, always_open_hours

DEMO_COUNTRY = "GB"
DEMO_TIME_ZONE = "Europe/London"
H = 3600
DAY = 10 * H  # a business day on the office calendar

# (priority, response seconds, resolution seconds, office hours?)
DEMO_TARGETS = [
    (1, 15 * 60, 4 * H, False),
    (2, 30 * 60, 8 * H, False),
    (3, 4 * H, 3 * DAY, True),
    (4, 8 * H, 5 * DAY, True),
]


def load_demo_slas() -> list[SlaDefinition]:
    """Create (or leave as they are) the demo calendars and eight SLAs; idempotent."""
    always, _ = BusinessCalendar.objects.get_or_create(
        name="24×7", defaults={"hours": always_open_hours()}
    )
    office, _ = BusinessCalendar.objects.get_or_create(
        name="Office hours (Mon–Fri 08:00–18:00)",
        defaults={
            "time_zone": DEMO_TIME_ZONE,
            "hours": {str(d): [["08:00", "18:00"]] for d in range(5)},
            "holiday_country": DEMO_COUNTRY,
        },
    )
    out = []
    for priority, response, resolution, business in DEMO_TARGETS:
        calendar = office if business else always
        for target, seconds in (("response", response), ("resolution", resolution)):
            definition, _ = SlaDefinition.objects.get_or_create(
                name=f"P{priority} {target}",
                defaults={
                    "target": target,
                    "duration_seconds": seconds,
                    "calendar": calendar,
                    "priorities": [priority],
                    "pause_states": ["on_hold"] if target == "resolution" else [],
                },
            )
            out.append(definition)
    return out


def load_demo(**_: object) -> str:
    """The SLA part of ``mainspring demo``: before any ticket, so their clocks start."""
    return f"{len(load_demo_slas())} SLAs"


def fire_past_thresholds(**_: object) -> None:
    """After the demo tickets: their history is in the past, so fire the thresholds it
    has already passed now, silently, so the first sweep on the worker does not mail a
    backlog of escalations about tickets nobody is working."""
    from .services import sweep

    sweep()
