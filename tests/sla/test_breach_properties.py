"""Properties of the breach moment, on timers driven in memory by the services' own clock
functions (start, pause, resume, stop, and the sweep's per-timer step ``_advance``).

For any calendar, budget and history of pauses, resumes and sweeps, the recorded breach
is the instant the running business time reached the budget: it does not depend on when
(or whether) the sweep ran, nor on pauses after that instant.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from mainspring.sla import services
from mainspring.sla.calendar import _from_us, _to_us, add_business_us, between_us, spec_for
from mainspring.sla.models import SlaTimer

from .test_calendar import DST_CALENDARS, DST_DAYS, NIGHTS, PARIS

US = 1_000_000
ALWAYS = {"time_zone": "UTC", "hours": {str(d): [["00:00", "24:00"]] for d in range(7)}}
CALENDARS = st.sampled_from([ALWAYS, PARIS, NIGHTS, *DST_CALENDARS])
THRESHOLDS = st.lists(st.integers(min_value=1, max_value=200), unique=True, max_size=4).map(
    lambda ps: [{"percent": p, "actions": []} for p in ps]
)
STARTS = st.builds(
    lambda day, us: datetime.combine(day, datetime.min.time(), UTC) + timedelta(microseconds=us),
    st.sampled_from(DST_DAYS),
    st.integers(min_value=-3 * 86_400 * US, max_value=3 * 86_400 * US),
)


def spans(*units: int, most: int = 60):
    """1 to ``most`` of one of ``units`` (µs), sometimes with a few odd microseconds."""
    return st.builds(
        lambda n, unit, odd: n * unit + odd,
        st.integers(min_value=1, max_value=most),
        st.sampled_from(units),
        st.one_of(st.just(0), st.integers(min_value=1, max_value=US - 1)),
    )


SECOND, MINUTE, HOUR, DAY = US, 60 * US, 3600 * US, 86_400 * US
GAPS = spans(SECOND, MINUTE, HOUR, DAY, most=48)  # between pauses, resumes and sweeps
LIFETIMES = spans(HOUR, DAY, 7 * DAY, most=20)  # from the start to the stop
DURATIONS = st.one_of(
    st.integers(min_value=1, max_value=12 * 3600),
    st.sampled_from([60, 900, 3600, 4 * 3600, 8 * 3600]),
)


def new_timer(calendar: dict, duration: int, thresholds: list[dict], start: datetime):
    """What ``services.new_timer`` builds, without a definition or ticket row."""
    percents = sorted(t["percent"] for t in thresholds)
    timer = SlaTimer(
        name="Fix",
        target="resolution",
        duration_seconds=duration,
        calendar_config=calendar,
        pause_states=["on_hold"],
        reopen="resume",
        thresholds=thresholds,
        started_at=start,
        next_percent=percents[0] if percents else None,
        state="in_progress",
    )
    services._run(timer, start)
    return timer


def simulate(calendar, duration, thresholds, start, toggles, sweeps, end):
    """Run a timer from ``start``: each toggle pauses or resumes it, each sweep time runs
    the sweep's step on it, ``end`` stops it. Returns the timer and the percents fired."""
    timer = new_timer(calendar, duration, thresholds, start)
    events = sorted([(t, "toggle") for t in toggles] + [(t, "sweep") for t in sweeps])
    fired = []
    for at, kind in events:
        if at >= end:
            break
        if kind == "sweep":
            fired += [percent for _, percent, _, _ in services._advance(timer, at)]
        elif timer.running_since is not None:
            services._pause(timer, at)
        else:
            services._run(timer, at)
        # While the clock runs, its deadline is the breach moment once breached.
        if timer.breached_at is not None and timer.running_since is not None:
            assert timer.breach_at == timer.breached_at
    services._stop(timer, end)
    return timer, fired


def ran_out_at(calendar, duration, start, toggles, end):
    """The oracle: walk the running stretches; the instant their business time reaches
    the budget, or None if it never does before ``end``."""
    spec = spec_for(calendar)
    budget, used, running, since = duration * US, 0, True, _to_us(start)
    for at in [*(t for t in toggles if t < end), end]:
        at = _to_us(at)
        if running:
            stretch = between_us(spec, since, at)
            if used + stretch >= budget:
                return _from_us(add_business_us(spec, since, budget - used))
            used += stretch
        since, running = at, not running
    return None


@st.composite
def histories(draw):
    calendar = draw(CALENDARS)
    duration = draw(DURATIONS)
    thresholds = draw(THRESHOLDS)
    start = draw(STARTS)

    def times(n):
        out, at = [], start
        for _ in range(n):
            at += timedelta(microseconds=draw(GAPS))
            out.append(at)
        return out

    toggles = times(draw(st.integers(min_value=0, max_value=8)))
    sweeps = sorted(set(times(draw(st.integers(min_value=0, max_value=8)))))
    end = start + timedelta(microseconds=draw(LIFETIMES))
    return calendar, duration, thresholds, start, toggles, sweeps, end


@settings(max_examples=300, deadline=None)
@given(histories())
def test_the_breach_is_when_the_budget_ran_out_whatever_the_sweeps(history):
    calendar, duration, thresholds, start, toggles, sweeps, end = history
    expected = ran_out_at(calendar, duration, start, toggles, end)
    swept, fired = simulate(calendar, duration, thresholds, start, toggles, sweeps, end)
    unswept, _ = simulate(calendar, duration, thresholds, start, toggles, [], end)
    for timer in (swept, unswept):
        assert timer.breached_at == expected
        assert timer.state == ("met" if expected is None else "breached")
        assert timer.stopped_at == end and timer.running_since is None
    # Thresholds fire in order, each at most once.
    assert fired == sorted(set(fired))


@settings(max_examples=200, deadline=None)
@given(histories())
def test_pauses_after_the_budget_ran_out_do_not_move_the_breach(history):
    calendar, duration, thresholds, start, toggles, sweeps, end = history
    expected = ran_out_at(calendar, duration, start, toggles, end)
    if expected is None:
        return
    # The same history up to the breach, and then never paused at all; or paused at the
    # breach's very instant and left on hold; or only sweeps afterwards.
    before = [t for t in toggles if t < expected]
    assert len(before) % 2 == 0  # the budget can only run out while the clock runs
    for later in ([], [expected], [expected + timedelta(microseconds=1)]):
        timer, _ = simulate(calendar, duration, thresholds, start, before + later, sweeps, end)
        assert timer.breached_at == expected
        assert timer.state == "breached"
