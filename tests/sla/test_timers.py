"""Timers follow ticket events: start, pause on hold, stop, reopen, reselection."""

from __future__ import annotations

import datetime as dt

from mainspring.core.models import AuditEntry
from mainspring.core.services import add_journal_entry
from mainspring.incidents import services as incidents
from mainspring.sla.models import SlaTimer
from mainspring.sla.services import elapsed_seconds, remaining_seconds
from tests.factories import make_incident

from .conftest import T0

MIN = dt.timedelta(minutes=1)


def test_matching_slas_start_on_create_with_deadline(clock, agent, make_sla):
    p3 = make_sla(name="P3 resolution", priorities=[3], duration_seconds=4 * 3600)
    make_sla(name="P1 only", priorities=[1])
    make_sla(name="Changes only", kinds=["change"])
    incident = make_incident(by=agent, impact="medium", urgency="medium")
    assert incident.priority == 3
    timer = SlaTimer.objects.get(ticket=incident)
    assert timer.definition == p3
    assert timer.state == "in_progress"
    assert timer.breach_at == T0 + dt.timedelta(hours=4)
    assert timer.next_threshold_at == T0 + dt.timedelta(hours=2)  # 50 %


def test_clock_pauses_on_hold_and_resumes(clock, agent, make_sla):
    make_sla(pause_states=["on_hold"], duration_seconds=3600)
    incident = make_incident(by=agent)
    clock.shift(10 * MIN)
    incidents.hold(incident, by=agent, hold_reason="awaiting_caller")
    timer = SlaTimer.objects.get(ticket=incident)
    assert timer.state == "paused"
    assert timer.breach_at is None and timer.next_threshold_at is None
    clock.shift(60 * MIN)
    assert elapsed_seconds(timer) == 600
    incidents.resume(incident, by=agent)
    clock.shift(5 * MIN)
    timer.refresh_from_db()
    assert timer.state == "in_progress"
    assert elapsed_seconds(timer) == 15 * 60
    assert remaining_seconds(timer) == 45 * 60
    assert timer.breach_at == T0 + 70 * MIN + 50 * MIN


def test_response_stops_at_first_public_agent_comment(clock, agent, requester, make_sla):
    make_sla(name="Response", target="response", duration_seconds=900)
    incident = make_incident(by=requester)
    clock.shift(5 * MIN)
    add_journal_entry(incident, by=agent, kind="work_note", body="looking")
    assert SlaTimer.objects.get(ticket=incident).state == "in_progress"
    add_journal_entry(incident, by=agent, kind="comment", body="On it")
    timer = SlaTimer.objects.get(ticket=incident)
    assert timer.state == "met"
    assert timer.stopped_at == T0 + 5 * MIN
    assert elapsed_seconds(timer) == 300


def test_resolution_stops_met_or_breached(clock, agent, make_sla):
    make_sla(duration_seconds=3600)
    quick = make_incident(by=agent)
    slow = make_incident(by=agent)
    clock.shift(30 * MIN)
    incidents.resolve(quick, by=agent, code="solved", notes="done")
    clock.shift(60 * MIN)
    incidents.resolve(slow, by=agent, code="solved", notes="done")
    assert SlaTimer.objects.get(ticket=quick).state == "met"
    late = SlaTimer.objects.get(ticket=slow)
    assert late.state == "breached"
    assert remaining_seconds(late) == -30 * 60


def test_reopen_resumes_where_it_stopped(clock, agent, make_sla):
    make_sla(duration_seconds=3600, reopen="resume")
    incident = make_incident(by=agent)
    clock.shift(20 * MIN)
    incidents.resolve(incident, by=agent, code="solved", notes="done")
    clock.shift(120 * MIN)
    incidents.reopen(incident, by=agent, reason="back again")
    timer = SlaTimer.objects.get(ticket=incident)
    assert timer.state == "in_progress" and timer.stopped_at is None
    assert elapsed_seconds(timer) == 20 * 60
    assert timer.breach_at == T0 + 140 * MIN + 40 * MIN


def test_reopen_restarts_when_configured(clock, agent, make_sla):
    make_sla(duration_seconds=3600, reopen="restart")
    incident = make_incident(by=agent)
    clock.shift(20 * MIN)
    incidents.resolve(incident, by=agent, code="solved", notes="done")
    clock.shift(10 * MIN)
    incidents.reopen(incident, by=agent, reason="back again")
    old, new = SlaTimer.objects.filter(ticket=incident).order_by("id")
    assert old.state == "met"
    assert new.state == "in_progress" and new.started_at == T0 + 30 * MIN
    assert elapsed_seconds(new) == 0


def test_priority_change_cancels_old_timer_and_starts_new(clock, agent, make_sla):
    make_sla(name="P3 fix", priorities=[3], duration_seconds=8 * 3600)
    make_sla(name="P1 fix", priorities=[1], duration_seconds=3600)
    incident = make_incident(by=agent, impact="medium", urgency="medium")
    clock.shift(10 * MIN)
    incidents.update_incident(incident, by=agent, impact="high", urgency="high")
    timers = {t.name: t for t in SlaTimer.objects.filter(ticket=incident)}
    assert timers["P3 fix"].state == "cancelled"
    assert timers["P1 fix"].state == "in_progress"
    assert timers["P1 fix"].breach_at == T0 + 70 * MIN
    audit = set(
        AuditEntry.objects.filter(ticket=incident, field__startswith="sla:").values_list(
            "field", "old_value", "new_value"
        )
    )
    assert ("sla:P3 fix", "in_progress", "cancelled") in audit
    assert ("sla:P1 fix", "", "in_progress") in audit


def test_a_long_sla_name_fits_the_audit_trail(clock, agent, make_sla):
    long_name = "Resolution for the finance department's month-end close " + "x" * 40
    make_sla(name=long_name, priorities=[3])
    incident = make_incident(by=agent, impact="medium", urgency="medium")
    incidents.update_incident(incident, by=agent, impact="high", urgency="high")
    entry = AuditEntry.objects.get(ticket=incident, field__startswith="sla:")
    assert entry.field == f"sla:{long_name}"[:50]
    assert (entry.old_value, entry.new_value) == ("in_progress", "cancelled")


def test_cancelled_ticket_cancels_timers_and_other_kinds_untouched(clock, agent, make_sla):
    make_sla(kinds=["incident"])
    incident = make_incident(by=agent)
    incidents.cancel(incident, by=agent, reason="duplicate")
    timer = SlaTimer.objects.get(ticket=incident)
    assert timer.state == "cancelled"
    assert timer.next_threshold_at is None


def test_editing_a_definition_keeps_running_timers(clock, agent, make_sla, always):
    sla = make_sla(duration_seconds=3600)
    incident = make_incident(by=agent)
    sla.duration_seconds = 60
    sla.save()
    always.hours = {"0": [["09:00", "10:00"]]}
    always.save()
    timer = SlaTimer.objects.get(ticket=incident)
    assert timer.duration_seconds == 3600
    clock.shift(30 * MIN)
    assert remaining_seconds(timer) == 30 * 60


def test_definition_changes_reach_the_next_ticket_at_once(clock, agent, make_sla):
    """Active definitions are cached per process; a save or delete drops the copy."""

    def timers_of_new_ticket():
        incident = make_incident(by=agent)
        return sorted(
            SlaTimer.objects.filter(ticket=incident).values_list("name", "duration_seconds")
        )

    first = make_sla(name="First", duration_seconds=3600)
    assert timers_of_new_ticket() == [("First", 3600)]  # and the cache is filled
    second = make_sla(name="Second", duration_seconds=7200)
    assert timers_of_new_ticket() == [("First", 3600), ("Second", 7200)]
    second.duration_seconds = 60
    second.save()
    assert timers_of_new_ticket() == [("First", 3600), ("Second", 60)]
    second.active = False
    second.save()
    assert timers_of_new_ticket() == [("First", 3600)]
    SlaTimer.objects.filter(definition=first).delete()  # timers protect a definition
    first.delete()
    assert timers_of_new_ticket() == []


def test_a_new_holiday_reaches_the_next_timer_at_once(clock, agent, make_sla):
    from mainspring.sla.models import BusinessCalendar, CalendarDay

    weekdays = BusinessCalendar.objects.create(
        name="Office", hours={str(d): [["08:00", "16:00"]] for d in range(5)}
    )
    make_sla(calendar=weekdays, duration_seconds=3600)
    before = SlaTimer.objects.get(ticket=make_incident(by=agent))
    assert before.breach_at == T0 + dt.timedelta(hours=1)  # Monday 09:00
    clock.shift(dt.timedelta(seconds=1))  # calendar snapshots are keyed by updated_at
    CalendarDay.objects.create(calendar=weekdays, date=T0.date(), name="Closed")
    after = SlaTimer.objects.get(ticket=make_incident(by=agent))
    assert after.breach_at == T0 + dt.timedelta(days=1, hours=1)  # Tuesday 09:00
