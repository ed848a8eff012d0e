"""Service level management: business calendars, SLA definitions, timers, escalations.

Timers point at ``core.Ticket`` so they serve every practice. A timer keeps a snapshot
of its definition and calendar from when it started: editing an SLA or a calendar
applies to new timers only. Deadlines (``breach_at``, ``next_threshold_at``) are stored
in UTC and indexed, so the escalation sweep is a range scan over what is due.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .calendar import _normalise_intervals

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ALL_DAY = [["00:00", "24:00"]]


def always_open_hours() -> dict[str, list[list[str]]]:
    return {str(d): ALL_DAY for d in range(7)}


def validate_time_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/Paris).") from exc


def validate_hours(value) -> None:
    """``{"0": [["08:00", "12:00"], ["13:00", "17:30"]], ...}``; keys 0 (Monday) to 6."""
    if not isinstance(value, dict):
        raise ValidationError("Give the hours per weekday, 0 (Monday) to 6 (Sunday).")
    try:
        for key, intervals in value.items():
            if key not in {str(d) for d in range(7)}:
                raise ValueError(f"Unknown weekday {key!r}; use 0 (Monday) to 6 (Sunday).")
            _normalise_intervals(intervals)
    except (ValueError, TypeError, IndexError) as exc:
        raise ValidationError(str(exc)) from exc
    if not any(value.get(str(d)) for d in range(7)):
        raise ValidationError("A calendar needs working hours on at least one day.")


def validate_holiday_country(value: str) -> None:
    if not value:
        return
    import holidays

    if value.upper() not in holidays.list_supported_countries():
        raise ValidationError(f"{value!r} is not a country the holidays package knows.")


class BusinessCalendar(models.Model):
    """Working hours per weekday in a time zone, minus holidays, plus exceptions."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone], help_text="IANA name."
    )
    hours = models.JSONField(
        default=always_open_hours,
        validators=[validate_hours],
        help_text='Per weekday (0 = Monday): {"0": [["08:00", "12:00"], ["13:00", "17:30"]]}.',
    )
    holiday_country = models.CharField(
        max_length=3,
        blank=True,
        validators=[validate_holiday_country],
        help_text="ISO code (FR, US, GB…) for public holidays; empty for none.",
    )
    holiday_subdivision = models.CharField(max_length=10, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.holiday_subdivision and self.holiday_country:
            import holidays

            subdivisions = holidays.list_supported_countries().get(self.holiday_country.upper(), [])
            if self.holiday_subdivision not in subdivisions:
                raise ValidationError({"holiday_subdivision": "Not a subdivision of that country."})

    def as_config(self) -> dict:
        """The JSON form timers snapshot; ``calendar.CalendarSpec.from_config`` reads it."""
        days = list(self.days.all())
        return {
            "time_zone": self.time_zone,
            "hours": self.hours,
            "holiday_country": self.holiday_country.upper(),
            "holiday_subdivision": self.holiday_subdivision,
            "holidays": sorted(d.date.isoformat() for d in days if d.closed),
            "exceptions": {
                d.date.isoformat(): d.hours
                for d in sorted(days, key=lambda d: d.date)
                if not d.closed
            },
        }


class CalendarDay(models.Model):
    """A holiday entered by hand (closed) or a one-off exception (other hours that day)."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="days")
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)
    closed = models.BooleanField(default=True, help_text="Closed all day (a holiday).")
    hours = models.JSONField(
        default=list, blank=True, help_text='If open: [["09:00", "13:00"]] replaces that day.'
    )

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="uniq_calendar_day")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        self.touch_calendar()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        self.touch_calendar()
        return result

    def touch_calendar(self) -> None:
        # Timers snapshot the calendar keyed by its updated_at (services.calendar_config).
        BusinessCalendar.objects.filter(pk=self.calendar_id).update(updated_at=timezone.now())

    def clean(self) -> None:
        if not self.closed:
            try:
                if not _normalise_intervals(self.hours):
                    raise ValueError("Give the hours, or mark the day closed.")
            except (ValueError, TypeError, IndexError) as exc:
                raise ValidationError({"hours": str(exc)}) from exc


class Target(models.TextChoices):
    RESPONSE = "response", "Response"
    RESOLUTION = "resolution", "Resolution"


class Reopen(models.TextChoices):
    RESUME = "resume", "Resume where it stopped"
    RESTART = "restart", "Restart from zero"


ACTION_TYPES = (
    "notify_assignee",
    "notify_group_manager",
    "notify_group",
    "raise_priority",
    "reassign",
    "work_note",
)


def default_thresholds() -> list[dict]:
    return [
        {"percent": 50, "actions": [{"type": "notify_assignee"}]},
        {"percent": 75, "actions": [{"type": "notify_assignee"}, {"type": "notify_group_manager"}]},
        {"percent": 90, "actions": [{"type": "notify_group_manager"}]},
        {
            "percent": 100,
            "actions": [{"type": "notify_group_manager"}, {"type": "work_note"}],
        },
    ]


def validate_thresholds(value) -> None:
    """A list of ``{"percent": 1..1000, "actions": [{"type": ..., "group": id}]}``."""
    if not isinstance(value, list):
        raise ValidationError("Give a list of thresholds.")
    seen = set()
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("percent"), int):
            raise ValidationError('Each threshold needs an integer "percent".')
        if not 1 <= item["percent"] <= 1000 or item["percent"] in seen:
            raise ValidationError("Percents are 1 to 1000, each once.")
        seen.add(item["percent"])
        actions = item.get("actions", [])
        if not isinstance(actions, list):
            raise ValidationError('"actions" is a list.')
        for action in actions:
            if not isinstance(action, dict) or action.get("type") not in ACTION_TYPES:
                raise ValidationError(f"Action types are: {', '.join(ACTION_TYPES)}.")
            if action["type"] in ("notify_group", "reassign") and not isinstance(
                action.get("group"), int
            ):
                raise ValidationError(f'"{action["type"]}" needs a "group" id.')


def validate_id_list(value) -> None:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ValidationError("Give a list of numbers.")


def validate_str_list(value) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("Give a list of names.")


class SlaDefinition(models.Model):
    """A target for the tickets its conditions select (an empty condition matches all)."""

    name = models.CharField(max_length=100, unique=True)
    active = models.BooleanField(default=True)
    target = models.CharField(max_length=16, choices=Target.choices)
    duration_seconds = models.PositiveIntegerField(help_text="Business time to the target.")
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="slas")
    kinds = models.JSONField(default=list, blank=True, validators=[validate_str_list])
    priorities = models.JSONField(default=list, blank=True, validators=[validate_id_list])
    category_ids = models.JSONField(default=list, blank=True, validators=[validate_id_list])
    requester_group_ids = models.JSONField(default=list, blank=True, validators=[validate_id_list])
    assignment_group_ids = models.JSONField(default=list, blank=True, validators=[validate_id_list])
    pause_states = models.JSONField(
        default=list, blank=True, validators=[validate_str_list], help_text='e.g. ["on_hold"]'
    )
    reopen = models.CharField(max_length=8, choices=Reopen.choices, default=Reopen.RESUME)
    thresholds = models.JSONField(default=default_thresholds, validators=[validate_thresholds])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "SLA definition"

    def __str__(self) -> str:
        return self.name


class TimerState(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    PAUSED = "paused", "Paused"
    MET = "met", "Met"
    BREACHED = "breached", "Breached"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATES = (TimerState.IN_PROGRESS, TimerState.PAUSED, TimerState.BREACHED)


class SlaTimer(models.Model):
    """One SLA running (or done) on one ticket.

    The clock: ``banked_us`` business microseconds accrued before ``running_since``; while
    running, elapsed = banked + business time since ``running_since``. A breached timer
    that is still open keeps state ``breached`` (``stopped_at`` tells whether it ended).
    """

    # db_index=False: the (ticket, state) and (definition, started_at) indexes lead with
    # these columns already; a timer write maintains two B-trees fewer.
    ticket = models.ForeignKey(
        "core.Ticket", on_delete=models.CASCADE, related_name="sla_timers", db_index=False
    )
    definition = models.ForeignKey(
        SlaDefinition, on_delete=models.PROTECT, related_name="timers", db_index=False
    )
    name = models.CharField(max_length=100)
    target = models.CharField(max_length=16, choices=Target.choices)
    duration_seconds = models.PositiveIntegerField()
    calendar_config = models.JSONField()
    pause_states = models.JSONField(default=list)
    reopen = models.CharField(max_length=8, choices=Reopen.choices)
    thresholds = models.JSONField(default=list)
    state = models.CharField(max_length=16, choices=TimerState.choices)
    started_at = models.DateTimeField(default=timezone.now)
    running_since = models.DateTimeField(null=True, blank=True)
    banked_us = models.BigIntegerField(default=0)
    breach_at = models.DateTimeField(null=True, blank=True)
    # When the last quarter begins (the queue's "at risk"); null unless running.
    at_risk_at = models.DateTimeField(null=True, blank=True)
    # The lowest threshold percent not fired yet (thresholds fire in order).
    next_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    next_threshold_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    # The ticket's priority and group as of the timer's last change (its stop, once
    # stopped): the compliance report groups by them without joining the tickets.
    priority = models.PositiveSmallIntegerField(null=True, blank=True)
    assignment_group = models.ForeignKey(
        "identity.AssignmentGroup",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [
            # The sweep: only timers with a threshold still to fire are in this index.
            models.Index(
                fields=["next_threshold_at"],
                condition=models.Q(next_threshold_at__isnull=False),
                name="sla_timer_due_idx",
            ),
            # "Breaches soonest" over running timers.
            models.Index(
                fields=["breach_at"],
                condition=models.Q(breach_at__isnull=False),
                name="sla_timer_breach_idx",
            ),
            models.Index(fields=["ticket", "state"], name="sla_timer_ticket_idx"),
            models.Index(fields=["definition", "started_at"], name="sla_timer_report_idx"),
            models.Index(fields=["started_at"], name="sla_timer_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} on ticket {self.ticket_id}"


class SlaEscalation(models.Model):
    """A threshold that fired: written with its actions, so each fires exactly once."""

    # db_index=False: the unique (timer, percent) constraint's index leads with it.
    timer = models.ForeignKey(
        SlaTimer, on_delete=models.CASCADE, related_name="escalations", db_index=False
    )
    percent = models.PositiveSmallIntegerField()
    fired_at = models.DateTimeField(default=timezone.now)
    actions = models.JSONField(default=list)

    class Meta:
        ordering = ["fired_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["timer", "percent"], name="uniq_sla_escalation")
        ]


class RecomputeState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class SlaRecompute(models.Model):
    """An admin's request to apply a changed SLA or calendar to running timers.

    Runs as a background task in batches; ``done`` / ``total`` is its progress.
    """

    definition = models.ForeignKey(
        SlaDefinition, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    state = models.CharField(
        max_length=8, choices=RecomputeState.choices, default=RecomputeState.QUEUED
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(
        "identity.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "SLA recompute"

    def __str__(self) -> str:
        what = self.definition or self.calendar
        return f"Recompute {what} ({self.get_state_display()})"

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.state == RecomputeState.DONE else 0
        return min(100, self.done * 100 // self.total)
