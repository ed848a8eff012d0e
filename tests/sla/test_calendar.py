"""Business-time arithmetic: hand-checked cases and round-trip properties."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mainspring.sla.calendar import (
    _to_us,
    add_business_time,
    add_business_us,
    between_us,
    business_seconds_between,
    spec_for,
)

WEEKDAYS = range(5)
PARIS = {
    "time_zone": "Europe/Paris",
    "hours": {str(d): [["08:00", "12:00"], ["13:00", "17:30"]] for d in WEEKDAYS},
    "holiday_country": "FR",
}
NEW_YORK = {
    "time_zone": "America/New_York",
    "hours": {str(d): [["09:00", "17:00"]] for d in WEEKDAYS},
    "holiday_country": "US",
}
NY_24X7 = {
    "time_zone": "America/New_York",
    "hours": {str(d): [["00:00", "24:00"]] for d in range(7)},
}
NIGHTS = {  # a night shift across midnight, written as two intervals
    "time_zone": "Europe/Paris",
    "hours": {str(d): [["00:00", "02:00"], ["22:00", "24:00"]] for d in range(7)},
    "holidays": ["2026-12-25"],
    "exceptions": {"2026-12-24": [["10:00", "11:00"]]},
}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


H = 3600


@pytest.mark.parametrize(
    ("calendar", "start", "seconds", "expected"),
    [
        # Friday 17:00 CET + 2 h: 30 min on Friday, then Monday after spring-forward (CEST).
        (PARIS, utc(2026, 3, 27, 16), 2 * H, utc(2026, 3, 30, 7, 30)),
        # Friday 17:00 CEST + 2 h: Monday after fall-back (CET).
        (PARIS, utc(2026, 10, 23, 15), 2 * H, utc(2026, 10, 26, 8, 30)),
        # Lunch break: Monday 11:30 + 1 h = 13:30 local.
        (PARIS, utc(2026, 6, 1, 9, 30), H, utc(2026, 6, 1, 11, 30)),
        # Thursday 30 April 17:00 + 1 h: 1 May (Friday) is a French holiday → Monday 08:30.
        (PARIS, utc(2026, 4, 30, 15), H, utc(2026, 5, 4, 6, 30)),
        # Saturday start counts from Monday 08:00.
        (PARIS, utc(2026, 6, 6, 10), 30 * 60, utc(2026, 6, 8, 6, 30)),
        # New York Friday 16:00 EDT + 2 h → Monday 10:00 EST after fall-back.
        (NEW_YORK, utc(2026, 10, 30, 20), 2 * H, utc(2026, 11, 2, 15)),
        # Year end: 31 Dec 16:00 EST + 2 h; 1 Jan is a holiday, then the weekend.
        (NEW_YORK, utc(2026, 12, 31, 21), 2 * H, utc(2027, 1, 4, 15)),
        # 24×7 across spring-forward: 24 h of business time is 24 real hours.
        (NY_24X7, utc(2026, 3, 7, 17), 24 * H, utc(2026, 3, 8, 17)),
        # Night shift across midnight: 23:00 + 2 h = 01:00 next day (CET = UTC+1).
        (NIGHTS, utc(2026, 1, 5, 22), 2 * H, utc(2026, 1, 6, 0)),
        # One-off exception on 24 Dec (10:00–11:00) and a manual holiday on 25 Dec.
        (NIGHTS, utc(2026, 12, 24, 1), 2 * H, utc(2026, 12, 26, 0)),
        # Zero adds nothing, even in closed time.
        (PARIS, utc(2026, 6, 6, 10), 0, utc(2026, 6, 6, 10)),
    ],
)
def test_hand_checked_deadlines(calendar, start, seconds, expected):
    assert add_business_time(calendar, start, seconds) == expected
    assert business_seconds_between(calendar, start, expected) == seconds


def test_dst_day_lengths_on_a_24x7_local_calendar():
    # 8 March 2026 in New York has 23 hours; 1 November has 25.
    assert business_seconds_between(NY_24X7, utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)) == 23 * H
    assert business_seconds_between(NY_24X7, utc(2026, 11, 1, 4), utc(2026, 11, 2, 5)) == 25 * H


def test_a_paris_week_is_42_and_a_half_hours():
    assert business_seconds_between(PARIS, utc(2026, 6, 7), utc(2026, 6, 14)) == 42 * H + 1800
    # Holiday week: Ascension (Thursday 14 May 2026) takes 8.5 h off.
    assert business_seconds_between(PARIS, utc(2026, 5, 10), utc(2026, 5, 17)) == 34 * H


def test_exact_to_the_second_with_microseconds():
    # 11:59:59.999999 local: one microsecond before lunch, the rest after 13:00.
    start = utc(2026, 6, 1, 9, 59, 59, 999_999)
    end = add_business_time(PARIS, start, 1)
    assert end == utc(2026, 6, 1, 11, 0, 0, 999_999)
    assert business_seconds_between(PARIS, start, end) == 1


def test_a_deadline_on_a_calendar_with_holidays_costs_under_a_millisecond():
    spec = spec_for(PARIS)
    add_business_time(spec, utc(2026, 1, 1), 10 * H)  # warm the holiday year
    started = time.perf_counter()
    for i in range(500):
        add_business_time(spec, utc(2026, 1, 1) + timedelta(hours=i), 3 * 85 * H // 10)
    assert (time.perf_counter() - started) / 500 < 0.001


def test_a_calendar_without_open_time_is_refused():
    with pytest.raises(ValueError, match="no open time"):
        add_business_time({"time_zone": "UTC", "hours": {}}, utc(2026, 1, 1), 60)


CALENDARS = st.sampled_from([PARIS, NEW_YORK, NY_24X7, NIGHTS])
INSTANTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(CALENDARS, INSTANTS, st.integers(min_value=0, max_value=40 * 24 * H * 1_000_000))
def test_add_then_measure_round_trips(calendar, start, amount):
    spec = spec_for(calendar)
    a = _to_us(start)
    end = add_business_us(spec, a, amount)
    assert end >= a
    assert between_us(spec, a, end) == amount


@settings(max_examples=300, deadline=None)
@given(CALENDARS, INSTANTS, INSTANTS)
def test_measure_then_add_lands_at_or_before_the_end(calendar, x, y):
    spec = spec_for(calendar)
    a, b = sorted((_to_us(x), _to_us(y)))
    measured = between_us(spec, a, b)
    end = add_business_us(spec, a, measured)
    assert end <= b
    assert between_us(spec, end, b) == 0
    # Measuring is additive over any split point.
    mid = (a + b) // 2
    assert between_us(spec, a, mid) + between_us(spec, mid, b) == measured


def test_a_deadline_beyond_ten_years_leaves_the_timer_without_one(clock, agent, make_sla, always):
    from mainspring.sla.models import SlaTimer
    from tests.factories import make_incident

    always.hours = {"0": [["08:00", "08:01"]]}
    always.save()
    make_sla(duration_seconds=3_000_000)
    incident = make_incident(by=agent)  # must not fail the create
    timer = SlaTimer.objects.get(ticket=incident)
    assert timer.state == "in_progress" and timer.breach_at is None
