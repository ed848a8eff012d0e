"""The compliance report's filter form: a period in whole days and a grouping."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django import forms

from mainspring.workspace.forms import AccessibleForm

from .calendar import local_to_utc
from .report import BY_CHOICES, site_time_zone

DEFAULT_DAYS = 30


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last ``DEFAULT_DAYS`` days, today included."""
    return today - dt.timedelta(days=DEFAULT_DAYS - 1), today


class ReportForm(AccessibleForm):
    """``from`` and ``to`` are dates, both included, read in the site time zone."""

    by = forms.ChoiceField(label="Group by", choices=list(BY_CHOICES.items()))

    def __init__(self, data: Mapping[str, str], *, today: dt.date) -> None:
        first, last = default_period(today)
        # Blank or absent means the default; whatever else was typed is kept and checked.
        values = {"from": first.isoformat(), "to": last.isoformat(), "by": "sla"}
        for name in values:
            raw = (data.get(name) or "").strip()
            if raw:
                values[name] = raw[:40]
        super().__init__(values)
        dates = {
            name: forms.DateField(
                label=label,
                help_text=help_text,
                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            )
            for name, label, help_text in (
                ("from", "From", "Timers started on or after this day."),
                ("to", "To", "Up to the end of this day."),
            )
        }
        self.fields = {**dates, **self.fields}

    def clean(self) -> dict:
        data = super().clean()
        first, last = data.get("from"), data.get("to")
        if first and last and last < first:
            self.add_error("to", "Choose a day on or after the “From” day.")
        return data

    def period(self) -> tuple[dt.datetime, dt.datetime]:
        """``[start, end)``: midnight of ``from`` to midnight after ``to``, site time zone."""
        tz = site_time_zone()
        data = self.cleaned_data
        start = _midnight(data["from"], tz)
        try:
            end = _midnight(data["to"] + dt.timedelta(days=1), tz)
        except OverflowError:
            end = dt.datetime.max.replace(tzinfo=tz)
        return start, end


def _midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """Midnight starting ``day`` in ``tz``, read as ``calendar.local_to_utc`` reads local
    times (where the clocks skip midnight, the day starts at the jump)."""
    wall = dt.datetime.combine(day, dt.time())
    try:
        return local_to_utc(wall, tz)
    except OverflowError:  # beyond year 1 or 9999 in UTC: compliance() refuses it
        return wall.replace(tzinfo=tz)
