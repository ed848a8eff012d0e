"""Business-time arithmetic: hand-checked cases and round-trip properties."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mainspring.sla.calendar import (
    _to_us,
    add_business_time,
    add_business_us,
    between_us,
    business_seconds_between,
    local_to_utc,
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


# -- DST: boundaries in the spring gap and the repeated autumn hour ------------------------
# The rule: a boundary the clocks skip is the first instant after the gap (when the
# clocks jump); a boundary the clocks show twice is its first occurrence. 2027: New York
# jumps 02:00 EST → 03:00 EDT on 14 March (07:00Z) and falls back 02:00 EDT → 01:00 EST
# on 7 November (06:00Z); Berlin jumps 02:00 CET → 03:00 CEST on 28 March (01:00Z) and
# falls back 03:00 CEST → 02:00 CET on 31 October (01:00Z).
def sundays(time_zone: str, *intervals: tuple[str, str], **extra) -> dict:
    return {"time_zone": time_zone, "hours": {"6": [list(i) for i in intervals]}, **extra}


BERLIN_OFFICE = {
    "time_zone": "Europe/Berlin",
    "hours": {str(d): [["08:00", "17:00"]] for d in WEEKDAYS},
    "holiday_country": "DE",
}


@pytest.mark.parametrize(
    ("calendar", "start", "seconds", "expected"),
    [
        # The case: opening 02:30 is skipped, so the day opens at 03:00 EDT
        # (07:00Z) and the 2 h fit before 05:00 EDT; not the next Sunday.
        (sundays("America/New_York", ("02:30", "05:00")), utc(2027, 3, 14, 5), 2 * H,
         utc(2027, 3, 14, 9)),
        # Closing 02:30 is skipped: the day closes at the jump (07:00Z) after 2 h
        # (00:00–02:00 EST); the third hour is next Sunday from 00:00 EDT (04:00Z).
        (sundays("America/New_York", ("00:00", "02:30")), utc(2027, 3, 14, 5), 3 * H,
         utc(2027, 3, 21, 5)),
        # Autumn: 01:30 opens at its first occurrence (01:30 EDT, 05:30Z); 03:00 EST is
        # 08:00Z, so the day has 2 h 30.
        (sundays("America/New_York", ("01:30", "03:00")), utc(2027, 11, 7, 4), 150 * 60,
         utc(2027, 11, 7, 8)),
        # Autumn: closing 01:30 is its first occurrence too (05:30Z): 1 h 30 that day, the
        # rest from 00:00 EST (05:00Z) a week later.
        (sundays("America/New_York", ("00:00", "01:30")), utc(2027, 11, 7, 4), 2 * H,
         utc(2027, 11, 14, 5, 30)),
        # Berlin spring: 02:30 is skipped, the day opens at 03:00 CEST (01:00Z).
        (sundays("Europe/Berlin", ("02:30", "04:00")), utc(2027, 3, 28, 0), H,
         utc(2027, 3, 28, 2)),
        # Berlin autumn: 02:30 CEST (00:30Z, first occurrence) to 04:00 CET (03:00Z).
        (sundays("Europe/Berlin", ("02:30", "04:00")), utc(2027, 10, 31, 0), 150 * 60,
         utc(2027, 10, 31, 3)),
        # Holidays around the jump: Thursday 25 March 16:00 CET + 3 h: 1 h, then Good
        # Friday, the weekend with the jump and Easter Monday → Tuesday 10:00 CEST.
        (BERLIN_OFFICE, utc(2027, 3, 25, 15), 3 * H, utc(2027, 3, 30, 8)),
        # A holiday on the jump's Sunday: the next Sunday, a whole EDT one (06:30–09:00Z).
        (sundays("America/New_York", ("02:30", "05:00"), holidays=["2027-03-14"]),
         utc(2027, 3, 14, 5), 2 * H, utc(2027, 3, 21, 8, 30)),
    ],
)  # fmt: skip
def test_dst_gap_and_repeated_hour_deadlines(calendar, start, seconds, expected):
    assert add_business_time(calendar, start, seconds) == expected
    assert business_seconds_between(calendar, start, expected) == seconds


@pytest.mark.parametrize(
    ("time_zone", "wall", "expected"),
    [
        ("America/New_York", datetime(2027, 3, 14, 2, 0), utc(2027, 3, 14, 7)),
        ("America/New_York", datetime(2027, 3, 14, 2, 30), utc(2027, 3, 14, 7)),
        ("America/New_York", datetime(2027, 3, 14, 2, 59, 59), utc(2027, 3, 14, 7)),
        ("America/New_York", datetime(2027, 3, 14, 3, 0), utc(2027, 3, 14, 7)),
        ("America/New_York", datetime(2027, 3, 14, 1, 59), utc(2027, 3, 14, 6, 59)),
        ("America/New_York", datetime(2027, 11, 7, 1, 30), utc(2027, 11, 7, 5, 30)),
        ("America/New_York", datetime(2027, 11, 7, 2, 0), utc(2027, 11, 7, 7)),
        ("Europe/Berlin", datetime(2027, 3, 28, 2, 30), utc(2027, 3, 28, 1)),
        ("Europe/Berlin", datetime(2027, 10, 31, 2, 30), utc(2027, 10, 31, 0, 30)),
        ("Europe/Berlin", datetime(2027, 10, 31, 3, 0), utc(2027, 10, 31, 2)),
        # Chile jumps at midnight: 00:00 on 6 September 2026 is skipped → 01:00 -03.
        ("America/Santiago", datetime(2026, 9, 6, 0, 0), utc(2026, 9, 6, 4)),
        # Lord Howe Island moves its clocks by half an hour.
        ("Australia/Lord_Howe", datetime(2026, 10, 4, 2, 15), utc(2026, 10, 3, 15, 30)),
    ],
)
def test_local_instant_rule(time_zone, wall, expected):
    assert local_to_utc(wall, ZoneInfo(time_zone)) == expected


def test_dst_day_lengths_in_berlin():
    berlin = {
        "time_zone": "Europe/Berlin",
        "hours": {str(d): [["00:00", "24:00"]] for d in range(7)},
    }
    assert business_seconds_between(berlin, utc(2027, 3, 27, 23), utc(2027, 3, 28, 22)) == 23 * H
    assert business_seconds_between(berlin, utc(2027, 10, 30, 22), utc(2027, 10, 31, 23)) == 25 * H


# Transition days 2025–2028 (New York; Berlin), to aim generated instants at them.
DST_DAYS = [
    date(2025, 3, 9), date(2025, 11, 2), date(2026, 3, 8), date(2026, 11, 1),
    date(2027, 3, 14), date(2027, 11, 7), date(2028, 3, 12), date(2028, 11, 5),
    date(2025, 3, 30), date(2025, 10, 26), date(2026, 3, 29), date(2026, 10, 25),
    date(2027, 3, 28), date(2027, 10, 31), date(2028, 3, 26), date(2028, 10, 29),
]  # fmt: skip
ZONES = ["America/New_York", "Europe/Berlin", "America/Santiago", "Australia/Lord_Howe"]


def first_instant_showing(wall: datetime, tz: ZoneInfo) -> datetime:
    """Brute force: the first whole-minute UTC instant whose local clock shows ``wall``
    or later (every zone here moves its clocks on whole minutes), scanning from before
    any instant that could show it (the largest offset around that day, plus margin)."""
    naive_utc = wall.replace(tzinfo=UTC)
    largest = max((naive_utc + timedelta(days=d)).astimezone(tz).utcoffset() for d in (-1, 1))
    u = naive_utc - largest - timedelta(hours=2)
    while u.astimezone(tz).replace(tzinfo=None) < wall:
        u += timedelta(minutes=1)
    return u


NEAR_DST_DAYS = st.builds(
    lambda day, shift: day + timedelta(days=shift),
    st.sampled_from(DST_DAYS),
    st.integers(min_value=-1, max_value=1),
)
WALL_MINUTES = st.integers(min_value=0, max_value=24 * 60 - 1)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ZONES), NEAR_DST_DAYS, WALL_MINUTES)
def test_a_local_time_is_the_first_instant_showing_it_or_later(zone, day, minute):
    """Never a time the clocks skipped, never later than the jump after a gap, and the
    first occurrence of a repeated time."""
    tz = ZoneInfo(zone)
    wall = datetime.combine(day, datetime.min.time()) + timedelta(minutes=minute)
    assert local_to_utc(wall, tz) == first_instant_showing(wall, tz)


# Calendars whose boundaries fall in the gaps and repeated hours above.
DST_CALENDARS = [
    sundays("America/New_York", ("01:30", "02:30"), ("02:45", "05:00")),
    sundays("America/New_York", ("00:00", "01:30"), ("02:00", "03:00")),
    sundays("Europe/Berlin", ("02:15", "02:45"), ("03:00", "24:00")),
    sundays("Europe/Berlin", ("00:00", "02:30")),
    {"time_zone": "Europe/Berlin", "hours": {str(d): [["00:00", "24:00"]] for d in range(7)}},
    BERLIN_OFFICE,
    NEW_YORK,
    NY_24X7,
]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(DST_CALENDARS), NEAR_DST_DAYS)
def test_every_boundary_follows_the_rule(calendar, day):
    spec = spec_for(calendar)
    expected = []
    for start, end in spec.local_hours(day):
        s, e = (
            _to_us(first_instant_showing(datetime.combine(day, datetime.min.time())
                                         + timedelta(seconds=x), spec.tz))
            for x in (start, end)
        )  # fmt: skip
        if e > s:  # an interval wholly inside a gap has no time at all
            expected.append((s, e))
    assert list(spec.day_intervals(day)) == expected


US, MINUTE_US, HOUR_US = 1_000_000, 60_000_000, 3_600_000_000
# Hypothesis draws small integers most often: offsets and amounts are also drawn as a
# count of minutes or hours, to land all over the transition days and weeks.
OFFSETS = st.one_of(
    st.integers(min_value=-3 * 86_400 * US, max_value=3 * 86_400 * US),
    st.builds(
        lambda n, unit: n * unit,
        st.integers(min_value=-72 * 60, max_value=72 * 60),
        st.sampled_from([MINUTE_US, HOUR_US // 60 * 15]),
    ),
)
NEAR_DST = st.builds(
    lambda day, us: datetime.combine(day, datetime.min.time(), UTC) + timedelta(microseconds=us),
    st.sampled_from(DST_DAYS),
    OFFSETS,
)
AMOUNTS = st.one_of(
    st.integers(min_value=0, max_value=30 * 24 * H * US),
    st.builds(
        lambda n, unit: n * unit,
        st.integers(min_value=0, max_value=200),
        st.sampled_from([MINUTE_US, HOUR_US]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(DST_CALENDARS), NEAR_DST, AMOUNTS, AMOUNTS)
def test_deadlines_near_transitions_measure_the_budget_and_grow_with_it(calendar, start, x, y):
    spec = spec_for(calendar)
    a = _to_us(start)
    small, large = sorted((x, y))
    first, second = add_business_us(spec, a, small), add_business_us(spec, a, large)
    # Business time from the start to the deadline is the budget, to the microsecond.
    assert between_us(spec, a, first) == small
    assert between_us(spec, a, second) == large
    # Deadlines are monotonic in the budget, and a deadline is where to go on from.
    assert a <= first <= second
    assert add_business_us(spec, first, large - small) == second
