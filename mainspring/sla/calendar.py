"""Business-time arithmetic on a calendar's local clock, exact to the microsecond.

A calendar is turned into a ``CalendarSpec`` (time zone, weekly hours, holidays,
one-off exceptions). For each local date the spec yields the open intervals as UTC
instants (integer microseconds since the epoch), cached per date, so a deadline costs a
handful of dictionary lookups. Local times are converted with zoneinfo, so a working day
on a DST change is as long as the wall clock says (a 24×7 day then has 23 or 25 hours).

A local time the clocks skip (02:30 on a spring-forward night in New York) is placed at
the first instant that exists after it, the moment the clocks jump (03:00 new time); a
local time they show twice (01:30 on the autumn night) is its first occurrence
(``local_instant``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "CalendarSpec",
    "add_business_time",
    "business_seconds_between",
    "local_instant",
    "local_to_utc",
    "parse_clock",
    "spec_for",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000
DAY = 86_400
# A calendar with no open time would make a search run forever; give up after this.
MAX_SEARCH_DAYS = 3_700


_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})")


def parse_clock(value: str) -> int:
    """'08:30' → seconds after midnight; '24:00' is the end of the day."""
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"Write times as HH:MM, not {str(value)[:20]!r}.")
    h, m = int(match[1]), int(match[2])
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
        raise ValueError(f"Not a time of day: {value!r}")
    return h * 3600 + m * 60


def _normalise_intervals(raw: Any) -> tuple[tuple[int, int], ...]:
    """[['08:00', '12:00'], ...] → sorted, non-overlapping (start, end) seconds."""
    if raw is not None and not isinstance(raw, (list, tuple)):
        raise ValueError("Give a list of [start, end] intervals.")
    out = []
    for pair in raw or ():
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError('Each interval is ["HH:MM", "HH:MM"].')
        start, end = parse_clock(pair[0]), parse_clock(pair[1])
        if end <= start:
            raise ValueError(f"An interval must end after it starts: {pair[0]}–{pair[1]}")
        out.append((start, end))
    out.sort()
    for (_, end), (start, _) in pairwise(out):
        if start < end:
            raise ValueError("Intervals on one day must not overlap.")
    return tuple(out)


def _to_us(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError("Use aware datetimes (UTC).")
    return (dt - _EPOCH) // timedelta(microseconds=1)


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def local_instant(wall: datetime, tz: tzinfo) -> int:
    """The UTC instant (µs since the epoch) of the naive local time ``wall`` in ``tz``.

    A time the clocks skip (in a spring-forward gap) becomes the first instant after the
    gap, when the clocks jump; a time they show twice (autumn) its first occurrence.
    zoneinfo alone would read a skipped time with the offset before the jump, up to the
    gap's length late (02:30 in New York would become 03:30 EDT instead of 03:00).
    """
    first = wall.replace(tzinfo=tz, fold=0)  # PEP 495: fold=0 is the first occurrence
    before, after = first.utcoffset(), first.replace(fold=1).utcoffset()
    if before is None or after is None or before >= after:
        return _to_us(first)  # exists, once (equal offsets) or twice (autumn: before > after)
    # In a gap: read with the offset after the jump it is before the jump, with the one
    # before it is after; the jump (to whole seconds, as tzdata has it) lies in between.
    lo = _to_us(first.replace(fold=1)) // _US
    hi = _to_us(first) // _US
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _from_us(mid * _US).astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi * _US


def local_to_utc(wall: datetime, tz: tzinfo) -> datetime:
    """``local_instant`` as an aware UTC datetime (naive ``wall``; an aware one is kept)."""
    if wall.tzinfo is not None:
        return wall.astimezone(UTC)
    return _from_us(local_instant(wall, tz))


@dataclass(eq=False)
class CalendarSpec:
    """An immutable calendar definition; build it with ``CalendarSpec.from_config``."""

    time_zone: str
    weekly: tuple[tuple[tuple[int, int], ...], ...]  # Monday first
    holiday_country: str = ""
    holiday_subdivision: str = ""
    manual_holidays: frozenset[date] = frozenset()
    exceptions: dict[date, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    _days: dict[date, tuple[tuple[int, int], ...]] = field(default_factory=dict, repr=False)
    _holiday_years: dict[int, frozenset[date]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.tz = ZoneInfo(self.time_zone)
        if len(self.weekly) != 7:
            raise ValueError("Give working hours for seven weekdays, Monday first.")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CalendarSpec:
        """From the JSON form stored on calendars and timer snapshots."""
        return _spec_from_json(json.dumps(config, sort_keys=True))

    # -- holidays ------------------------------------------------------------------
    def _public_holidays(self, year: int) -> frozenset[date]:
        if not self.holiday_country:
            return frozenset()
        cached = self._holiday_years.get(year)
        if cached is None:
            import holidays

            found = holidays.country_holidays(
                self.holiday_country, subdiv=self.holiday_subdivision or None, years=year
            )
            cached = self._holiday_years[year] = frozenset(found.keys())
        return cached

    def is_holiday(self, day: date) -> bool:
        return day in self.manual_holidays or day in self._public_holidays(day.year)

    # -- open intervals ------------------------------------------------------------
    def local_hours(self, day: date) -> tuple[tuple[int, int], ...]:
        """Open (start, end) seconds after local midnight on ``day``."""
        if day in self.exceptions:
            return self.exceptions[day]
        if self.is_holiday(day):
            return ()
        return self.weekly[day.weekday()]

    def day_intervals(self, day: date) -> tuple[tuple[int, int], ...]:
        """Open intervals of local ``day`` as UTC microseconds, cached."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        out = []
        for start, end in self.local_hours(day):
            s, e = self._instant(day, start), self._instant(day, end)
            if e > s:
                out.append((s, e))
        result = self._days[day] = tuple(out)
        return result

    def _instant(self, day: date, seconds: int) -> int:
        if seconds >= DAY:
            day, seconds = day + timedelta(days=1), seconds - DAY
        wall = datetime.combine(day, time(seconds // 3600, seconds % 3600 // 60))
        return local_instant(wall, self.tz)

    def local_date(self, us: int) -> date:
        return _from_us(us).astimezone(self.tz).date()


@lru_cache(maxsize=256)
def _spec_from_json(raw: str) -> CalendarSpec:
    config = json.loads(raw)
    weekly = tuple(_normalise_intervals(config.get("hours", {}).get(str(d))) for d in range(7))
    return CalendarSpec(
        time_zone=config.get("time_zone") or "UTC",
        weekly=weekly,
        holiday_country=config.get("holiday_country") or "",
        holiday_subdivision=config.get("holiday_subdivision") or "",
        manual_holidays=frozenset(date.fromisoformat(d) for d in config.get("holidays", ())),
        exceptions={
            date.fromisoformat(d): _normalise_intervals(hours)
            for d, hours in (config.get("exceptions") or {}).items()
        },
    )


def spec_for(calendar: Any) -> CalendarSpec:
    """A spec from a spec, a config dict, or anything with ``as_config()`` (the model)."""
    if isinstance(calendar, CalendarSpec):
        return calendar
    if isinstance(calendar, dict):
        return CalendarSpec.from_config(calendar)
    return CalendarSpec.from_config(calendar.as_config())


def add_business_us(spec: CalendarSpec, start: int, amount: int) -> int:
    """The instant ``amount`` business microseconds after ``start`` (both µs)."""
    if amount < 0:
        raise ValueError("Add a positive amount of business time.")
    if amount == 0:
        return start
    day = spec.local_date(start)
    for _ in range(MAX_SEARCH_DAYS):
        for s, e in spec.day_intervals(day):
            if e <= start:
                continue
            begin = max(s, start)
            available = e - begin
            if amount <= available:
                return begin + amount
            amount -= available
        day += timedelta(days=1)
    raise ValueError("The calendar has no open time within ten years.")


def between_us(spec: CalendarSpec, a: int, b: int) -> int:
    """Business microseconds in [a, b); 0 if b <= a."""
    if b <= a:
        return 0
    total = 0
    day, last = spec.local_date(a), spec.local_date(b)
    while day <= last:
        for s, e in spec.day_intervals(day):
            lo, hi = max(s, a), min(e, b)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total


def add_business_time(calendar: Any, start_utc: datetime, seconds: float) -> datetime:
    """The UTC instant ``seconds`` of business time after ``start_utc`` on ``calendar``.

    With no open time left at ``start_utc`` the count starts at the next opening;
    adding 0 returns ``start_utc`` itself.
    """
    spec = spec_for(calendar)
    amount = round(seconds * _US)
    return _from_us(add_business_us(spec, _to_us(start_utc), amount))


def business_seconds_between(calendar: Any, a: datetime, b: datetime) -> int:
    """Whole business seconds between two UTC instants (0 when ``b`` is not after ``a``)."""
    spec = spec_for(calendar)
    return between_us(spec, _to_us(a), _to_us(b)) // _US
