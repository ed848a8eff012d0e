"""The breach is recorded at the instant the budget ran out, whatever fires or pauses when.

Worked through the real services (ticket events, the sweep, recompute, the report) on
the issue's case: a 24×7 calendar, a 900 s SLA, an incident created 10:00:30, put on hold
10:15:45 (15 s after its budget ran out at 10:15:30), resumed 11:00:30.
"""

from __future__ import annotations

import datetime as dt

import pytest

from mainspring.core.models import Ticket
from mainspring.incidents import services as incidents
from mainspring.sla import services
from mainspring.sla.models import BusinessCalendar, SlaEscalation, SlaTimer
from mainspring.sla.recompute import request_recompute
from mainspring.sla.report import compliance
from tests.factories import make_incident

SEC = dt.timedelta(seconds=1)
MIN = dt.timedelta(minutes=1)
CREATED = dt.datetime(2026, 6, 1, 10, 0, 30, tzinfo=dt.UTC)
RAN_OUT = CREATED + 900 * SEC  # 10:15:30
HELD = dt.datetime(2026, 6, 1, 10, 15, 45, tzinfo=dt.UTC)
RESUMED = dt.datetime(2026, 6, 1, 11, 0, 30, tzinfo=dt.UTC)
JUNE = {
    "start": dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
    "end": dt.datetime(2026, 7, 1, tzinfo=dt.UTC),
    "by": "sla",
}
ONLY_50 = [{"percent": 50, "actions": [{"type": "work_note"}]}]


def timer_of(incident) -> SlaTimer:
    return SlaTimer.objects.get(ticket=incident)


def ticket_row(incident) -> Ticket:
    return Ticket.objects.get(pk=incident.pk)


def report_counts() -> tuple[int, int]:
    total = compliance(**JUNE).total
    return total.met, total.breached


# Sweeps (in minutes after creation) before the hold: none; one at 50 %; one at 90 % (a
# second before the budget ran out); and SLAs without a 100 % threshold.
CASES = {
    "no sweep": ((), None),
    "swept at 50 %": ((8,), None),
    "swept at 90 %": ((14,), None),
    "no 100 % threshold, no sweep": ((), ONLY_50),
    "no 100 % threshold, swept at 50 %": ((8,), ONLY_50),
}


@pytest.mark.parametrize(("sweeps", "thresholds"), CASES.values(), ids=CASES.keys())
def test_hold_after_the_budget_ran_out_records_the_breach_when_it_ran_out(
    clock, agent, make_sla, sweeps, thresholds
):
    extra = {"thresholds": thresholds} if thresholds is not None else {}
    make_sla(duration_seconds=900, pause_states=["on_hold"], **extra)
    clock.move_to(CREATED)
    incident = make_incident(by=agent)
    for minutes in sweeps:
        clock.move_to(CREATED + minutes * MIN)
        services.sweep()
    assert timer_of(incident).breached_at is None  # nothing had noticed the breach

    clock.move_to(HELD)
    incidents.hold(incident, by=agent, hold_reason="awaiting_caller")
    timer = timer_of(incident)
    assert timer.state == "breached"
    assert timer.breached_at == timer.breach_at == RAN_OUT
    assert timer.banked_us == 915 * 1_000_000 and timer.running_since is None
    # The queue's "SLA breached" view and the report see it while it is on hold.
    assert ticket_row(incident).sla_breach_at == RAN_OUT
    assert Ticket.objects.filter(pk=incident.pk, sla_breach_at__lte=HELD).exists()
    assert report_counts() == (0, 1)

    clock.move_to(RESUMED)
    incidents.resume(incident, by=agent)
    clock.shift(MIN)
    services.sweep()  # thresholds left over fire now; the breach stays where it was
    timer = timer_of(incident)
    assert (timer.state, timer.breached_at, timer.breach_at) == ("breached", RAN_OUT, RAN_OUT)
    assert ticket_row(incident).sla_breach_at == RAN_OUT

    incidents.resolve(incident, by=agent, code="solved", notes="done")
    timer = timer_of(incident)
    assert (timer.state, timer.breached_at) == ("breached", RAN_OUT)
    assert report_counts() == (0, 1)
    expected = [50] if thresholds else [50, 75, 90, 100]
    assert sorted(SlaEscalation.objects.values_list("percent", flat=True)) == expected


def test_the_breach_mail_after_resume_names_the_instant_it_ran_out(clock, agent, make_sla):
    from mainspring.notifications.models import Delivery

    make_sla(
        duration_seconds=900,
        pause_states=["on_hold"],
        thresholds=[{"percent": 100, "actions": [{"type": "notify_assignee"}]}],
    )
    clock.move_to(CREATED)
    incident = make_incident(by=agent, assignee=agent)
    clock.move_to(HELD)
    incidents.hold(incident, by=agent, hold_reason="awaiting_caller")
    assert services.sweep() == 0  # a paused timer is not due, even breached
    clock.move_to(RESUMED)
    incidents.resume(incident, by=agent)
    assert services.sweep() == 1
    mail = Delivery.objects.get(event="sla")
    assert "breached" in mail.subject
    assert "Deadline: 2026-06-01 10:15 UTC" in mail.body


def test_resolved_while_on_hold_is_breached_when_it_ran_out(clock, agent, make_sla):
    make_sla(duration_seconds=900, pause_states=["on_hold"], thresholds=ONLY_50)
    clock.move_to(CREATED)
    incident = make_incident(by=agent)
    clock.move_to(HELD)
    incidents.hold(incident, by=agent, hold_reason="awaiting_caller")
    clock.move_to(RESUMED)
    incidents.resolve(incident, by=agent, code="solved", notes="done")
    timer = timer_of(incident)
    assert (timer.state, timer.breached_at, timer.stopped_at) == ("breached", RAN_OUT, RESUMED)


def test_hold_before_the_budget_ran_out_is_no_breach(clock, agent, make_sla):
    make_sla(duration_seconds=900, pause_states=["on_hold"])
    clock.move_to(CREATED)
    incident = make_incident(by=agent)
    clock.move_to(RAN_OUT - SEC)
    incidents.hold(incident, by=agent, hold_reason="awaiting_caller")
    timer = timer_of(incident)
    assert (timer.state, timer.breached_at, timer.breach_at) == ("paused", None, None)
    assert ticket_row(incident).sla_breach_at is None
    clock.move_to(RESUMED)
    incidents.resume(incident, by=agent)
    assert timer_of(incident).breach_at == RESUMED + SEC  # the one second left
    assert report_counts() == (0, 0)


def test_reaching_the_budget_exactly_is_a_breach(clock, agent, make_sla):
    """At the deadline the budget is used up: the queue shows it breached from that
    instant (``sla_breach_at <= now``), and a stop at that instant agrees."""
    make_sla(duration_seconds=900)
    clock.move_to(CREATED)
    on_time = make_incident(by=agent)
    at_deadline = make_incident(by=agent)
    clock.move_to(RAN_OUT - dt.timedelta(microseconds=1))
    incidents.resolve(on_time, by=agent, code="solved", notes="done")
    clock.move_to(RAN_OUT)
    incidents.resolve(at_deadline, by=agent, code="solved", notes="done")
    assert timer_of(on_time).state == "met"
    timer = timer_of(at_deadline)
    assert (timer.state, timer.breached_at) == ("breached", RAN_OUT)
    assert report_counts() == (1, 1)


def test_without_a_100_percent_threshold_the_sweep_records_the_breach(clock, agent, make_sla):
    make_sla(duration_seconds=900, thresholds=ONLY_50)
    clock.move_to(CREATED)
    incident = make_incident(by=agent)
    assert timer_of(incident).next_threshold_at == CREATED + 450 * SEC
    clock.move_to(CREATED + 8 * MIN)
    assert services.sweep() == 1  # 50 %
    timer = timer_of(incident)
    assert timer.next_percent is None
    assert timer.next_threshold_at == RAN_OUT  # due again: for the breach
    clock.move_to(RAN_OUT + 3 * MIN)  # the sweep comes late
    assert services.sweep() == 0  # no threshold fires...
    timer = timer_of(incident)
    assert (timer.state, timer.breached_at) == ("breached", RAN_OUT)  # ...but it is recorded
    assert timer.next_threshold_at is None  # and not due again
    assert report_counts() == (0, 1)  # counted while still running
    assert ticket_row(incident).sla_breach_at == RAN_OUT


def test_a_threshold_past_100_percent_does_not_move_the_breach(clock, agent, make_sla):
    make_sla(duration_seconds=900, thresholds=[{"percent": 150, "actions": []}])
    clock.move_to(CREATED)
    incident = make_incident(by=agent)
    clock.move_to(CREATED + 30 * MIN)  # past 100 % and 150 %: one late sweep
    assert services.sweep() == 1
    timer = timer_of(incident)
    assert (timer.state, timer.breached_at) == ("breached", RAN_OUT)


def test_a_stale_due_time_on_a_held_timer_fires_nothing_and_is_cleared(clock, agent, make_sla):
    make_sla(duration_seconds=900, pause_states=["on_hold"])
    clock.move_to(CREATED)
    incident = make_incident(by=agent)
    incidents.hold(incident, by=agent, hold_reason="awaiting_caller")
    SlaTimer.objects.filter(ticket=incident).update(next_threshold_at=CREATED)  # stale write
    clock.move_to(RESUMED)
    assert services.sweep() == 0
    timer = timer_of(incident)
    assert (timer.state, timer.breached_at, timer.next_threshold_at) == ("paused", None, None)


def test_a_dst_gap_deadline_lands_on_the_ticket(clock, agent, make_sla):
    """The issue's case end to end: New York, Sundays 02:30–05:00, an incident at
    2027-03-14 05:00Z (00:00 EST) and a 2 h SLA: 03:00–05:00 EDT that day (07:00–09:00Z)."""
    sundays = BusinessCalendar.objects.create(
        name="NY Sunday nights", time_zone="America/New_York", hours={"6": [["02:30", "05:00"]]}
    )
    make_sla(calendar=sundays, duration_seconds=2 * 3600)
    clock.move_to(dt.datetime(2027, 3, 14, 5, tzinfo=dt.UTC))
    incident = make_incident(by=agent)
    deadline = dt.datetime(2027, 3, 14, 9, tzinfo=dt.UTC)
    assert timer_of(incident).breach_at == deadline
    assert ticket_row(incident).sla_breach_at == deadline


# -- recompute --------------------------------------------------------------------------------
def _recompute(run_tasks, admin, definition) -> None:
    request_recompute(by=admin, definition=definition)
    run_tasks()


def test_recompute_keeps_a_breach_no_sweep_had_seen(clock, agent, admin, make_sla, run_tasks):
    """The old budget ran out at 10:15:30 before the job ran at 10:20: a longer new
    duration does not undo that breach, and it stays at 10:15:30."""
    sla = make_sla(duration_seconds=900)
    clock.move_to(CREATED)
    incident = make_incident(by=agent)
    clock.move_to(CREATED + 20 * MIN)
    services.save_definition(by=admin, instance=sla, duration_seconds=3600)
    _recompute(run_tasks, admin, sla)
    timer = timer_of(incident)
    assert (timer.state, timer.breached_at, timer.breach_at) == ("breached", RAN_OUT, RAN_OUT)
    assert ticket_row(incident).sla_breach_at == RAN_OUT
    assert report_counts() == (0, 1)


def test_recompute_shorter_than_a_paused_timers_time_breaches_it_now(
    clock, agent, admin, make_sla, run_tasks
):
    """10 min used, then on hold; the SLA becomes 5 min: the new budget is used up the
    moment it applies, so the paused timer is breached then (it would otherwise wait for
    the resume to be noticed)."""
    sla = make_sla(duration_seconds=900, pause_states=["on_hold"])
    clock.move_to(CREATED)
    incident = make_incident(by=agent)
    clock.move_to(CREATED + 10 * MIN)
    incidents.hold(incident, by=agent, hold_reason="awaiting_caller")
    clock.move_to(CREATED + 30 * MIN)
    services.save_definition(by=admin, instance=sla, duration_seconds=300)
    _recompute(run_tasks, admin, sla)
    timer = timer_of(incident)
    applied = CREATED + 30 * MIN
    assert (timer.state, timer.breached_at, timer.running_since) == ("breached", applied, None)
    assert ticket_row(incident).sla_breach_at == applied
    clock.move_to(RESUMED)
    incidents.resume(incident, by=agent)
    assert timer_of(incident).breached_at == applied


# -- timers written before the rule (migration 0005) ------------------------------------------
def _migrate() -> None:
    import importlib

    from django.apps import apps

    importlib.import_module("mainspring.sla.migrations.0005_record_breaches").record_breaches(
        apps, None
    )


def test_migration_records_the_breach_of_a_timer_held_after_it_ran_out(clock, agent, make_sla):
    """As the old code left it: on hold since 10:15:45, paused, no breach, no deadline."""
    office = BusinessCalendar.objects.create(
        name="Office", hours={str(d): [["08:00", "10:10"], ["10:15", "18:00"]] for d in range(5)}
    )
    make_sla(calendar=office, duration_seconds=600, pause_states=["on_hold"])
    clock.move_to(CREATED)  # 10:00:30: 9 min 30 s to 10:10, then 30 s from 10:15
    incident = make_incident(by=agent)
    untouched = make_incident(by=agent)
    clock.move_to(HELD)
    incidents.hold(incident, by=agent, hold_reason="awaiting_caller")
    incidents.hold(untouched, by=agent, hold_reason="awaiting_caller")
    old_style = {"state": "paused", "breached_at": None, "breach_at": None, "at_risk_at": None}
    SlaTimer.objects.filter(ticket=incident).update(**old_style)
    Ticket.objects.filter(pk=incident.pk).update(sla_breach_at=None, sla_at_risk_at=None)
    SlaTimer.objects.filter(ticket=untouched).update(banked_us=60 * 1_000_000, **old_style)
    Ticket.objects.filter(pk=untouched.pk).update(sla_breach_at=None, sla_at_risk_at=None)

    _migrate()
    ran_out = dt.datetime(2026, 6, 1, 10, 15, 30, tzinfo=dt.UTC)
    timer = timer_of(incident)
    assert (timer.state, timer.breached_at, timer.breach_at) == ("breached", ran_out, ran_out)
    assert ticket_row(incident).sla_breach_at == ran_out
    assert (timer_of(untouched).state, timer_of(untouched).breached_at) == ("paused", None)
    assert ticket_row(untouched).sla_breach_at is None
    _migrate()  # twice changes nothing
    assert timer_of(incident).breached_at == ran_out


def test_migration_makes_running_timers_due_at_their_deadline(clock, agent, make_sla):
    make_sla(duration_seconds=900, thresholds=ONLY_50)
    clock.move_to(CREATED)
    incident = make_incident(by=agent)
    clock.move_to(CREATED + 8 * MIN)
    services.sweep()
    SlaTimer.objects.filter(ticket=incident).update(next_threshold_at=None)  # as before
    _migrate()
    assert timer_of(incident).next_threshold_at == RAN_OUT
    clock.move_to(RAN_OUT + MIN)
    services.sweep()
    assert timer_of(incident).breached_at == RAN_OUT
