"""The escalation sweep: each threshold fires exactly once, whatever happens."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from mainspring.core.models import AuditEntry, JournalEntry
from mainspring.core.periodic import registry
from mainspring.notifications.models import Delivery
from mainspring.sla import services
from mainspring.sla.models import SlaEscalation, SlaTimer
from tests.factories import GroupFactory, UserFactory, add_member, make_incident

from .conftest import T0

MIN = dt.timedelta(minutes=1)


def test_sweep_is_a_registered_periodic_job():
    assert registry["sweep_sla_escalations"].every == MIN


def test_each_threshold_fires_once_in_order(clock, agent, manager, service_desk, make_sla):
    make_sla(duration_seconds=3600)
    incident = make_incident(by=agent, assignment_group=service_desk, assignee=agent)
    assert services.sweep() == 0
    clock.shift(46 * MIN)
    assert services.sweep() == 2  # 50 % and 75 %
    assert services.sweep() == 0
    timer = SlaTimer.objects.get(ticket=incident)
    assert timer.next_percent == 90
    assert timer.next_threshold_at == T0 + 54 * MIN
    clock.shift(20 * MIN)
    assert services.sweep() == 2  # 90 % and 100 %
    timer.refresh_from_db()
    assert timer.state == "breached"
    assert timer.breached_at == T0 + 60 * MIN
    assert timer.next_threshold_at is None
    assert sorted(SlaEscalation.objects.values_list("percent", flat=True)) == [50, 75, 90, 100]
    sla_mail = Delivery.objects.filter(event="sla")
    # assignee at 50 and 75, manager at 75, 90 and 100.
    assert sla_mail.filter(recipient=agent).count() == 2
    assert sla_mail.filter(recipient=manager).count() == 3
    note = JournalEntry.objects.get(ticket=incident, kind="work_note")
    assert "100%" in note.body


def test_paused_timers_are_not_due(clock, agent, make_sla):
    make_sla(duration_seconds=600, pause_states=["on_hold"])
    incident = make_incident(by=agent)
    from mainspring.incidents import services as incidents

    incidents.hold(incident, by=agent, hold_reason="awaiting_caller")
    clock.shift(60 * MIN)
    assert services.sweep() == 0
    assert SlaTimer.objects.get(ticket=incident).state == "paused"


def test_raise_priority_and_reassign_actions(clock, agent, make_sla, network_team):
    make_sla(
        name="Any",
        duration_seconds=600,
        thresholds=[
            {"percent": 50, "actions": [{"type": "reassign", "group": network_team.pk}]},
            {"percent": 100, "actions": [{"type": "raise_priority"}]},
        ],
    )
    incident = make_incident(by=agent, impact="low", urgency="low", assignee=agent)
    before = incident.priority
    clock.shift(11 * MIN)
    assert services.sweep() == 2
    incident.refresh_from_db()
    assert incident.assignment_group == network_team
    assert incident.priority == before - 1
    # Reassigned through the incident's own service: the assignee is cleared and the
    # reassignment counted, under the system account.
    assert incident.assignee is None and incident.reassignment_count == 1
    moved = AuditEntry.objects.get(ticket=incident, field="assignment_group")
    assert moved.actor.username == "system" and moved.channel == "system"


def test_interrupted_sweep_fires_the_rest_and_none_twice(clock, agent, make_sla):
    make_sla(duration_seconds=600)
    tickets = [make_incident(by=agent) for _ in range(5)]
    clock.shift(20 * MIN)
    calls = {"n": 0}

    def crashing(timer, now):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed")
        return services._fire_due(timer, now)

    with pytest.raises(RuntimeError):
        services.sweep(batch=2, _fire=crashing)
    # The first batch (2 timers × 4 thresholds) committed; the second rolled back.
    assert SlaEscalation.objects.count() == 8
    assert services.sweep(batch=2) == 12
    assert services.sweep(batch=2) == 0
    assert SlaEscalation.objects.count() == 20
    for ticket in tickets:
        assert SlaTimer.objects.get(ticket=ticket).state == "breached"


def test_sweep_queries_do_not_grow_with_open_tickets(
    clock, agent, make_sla, django_assert_num_queries
):
    make_sla(duration_seconds=3600)
    for _ in range(3):
        make_incident(by=agent)
    # savepoint, one indexed range query, release: whatever the number of open tickets.
    with django_assert_num_queries(3):
        assert services.sweep() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_fire_each_threshold_once(make_sla):
    import time_machine

    with time_machine.travel(T0, tick=False) as clock:
        group = GroupFactory(name="Desk")
        worker = UserFactory(username="worker", role="agent")
        add_member(group, worker)
        make_sla(duration_seconds=600)
        for _ in range(30):
            make_incident(by=worker, assignment_group=group, assignee=worker)
        clock.shift(20 * MIN)
        results: list[int] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(2)

        def run():
            try:
                barrier.wait()
                results.append(services.sweep(batch=5))
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert sum(results) == 30 * 4
    assert SlaEscalation.objects.count() == 30 * 4
    # 50 % and 75 % notify the assignee: exactly once each per timer.
    assert Delivery.objects.filter(event="sla", recipient=worker).count() == 30 * 2


def _due_incidents(count, *, agent, group, clock, make_sla):
    """``count`` incidents, 20 minutes into a 10-minute SLA: its four default thresholds
    (50 % assignee, 75 % assignee and manager, 90 % manager, 100 % manager and a work
    note) are all due."""
    make_sla(duration_seconds=600)
    incidents = [
        make_incident(by=agent, assignment_group=group, assignee=agent) for _ in range(count)
    ]
    clock.shift(20 * MIN)
    return incidents


def test_sweep_queries_do_not_grow_with_due_timers(clock, agent, manager, service_desk, make_sla):
    """A batch costs the same queries for 2 or 12 due timers (4 thresholds each, every
    action type that writes: assignee and manager mail, group mail, work note)."""
    from django.test.utils import CaptureQueriesContext

    mailbox = GroupFactory(name="Mailbox", email="desk@example.com")
    members = GroupFactory(name="Members")
    add_member(members, UserFactory(username="member", role="agent"))
    thresholds = [
        {"percent": 50, "actions": [{"type": "notify_assignee"}]},
        {"percent": 75, "actions": [{"type": "notify_group", "group": mailbox.pk}]},
        {"percent": 90, "actions": [{"type": "notify_group", "group": members.pk}]},
        {"percent": 100, "actions": [{"type": "notify_group_manager"}, {"type": "work_note"}]},
    ]
    make_sla(duration_seconds=600, thresholds=thresholds)
    counts = {}
    for n in (2, 12):
        for _ in range(n):
            make_incident(by=agent, assignment_group=service_desk, assignee=agent)
        clock.shift(20 * MIN)
        with CaptureQueriesContext(connection) as ctx:
            assert services.sweep() == 4 * n
        counts[n] = len(ctx.captured_queries)
    assert counts[2] == counts[12]
    assert counts[12] <= 16
    assert Delivery.objects.filter(event="sla").count() == 14 * 4  # one each, 4 thresholds
    assert Delivery.objects.filter(event="sla", to_address__contains="desk@").count() == 14
    assert Delivery.objects.filter(event="sla", recipient__username="member").count() == 14
    assert JournalEntry.objects.filter(kind="work_note").count() == 14


def test_batches_cost_a_bounded_number_of_queries(clock, agent, manager, service_desk, make_sla):
    from django.test.utils import CaptureQueriesContext

    _due_incidents(11, agent=agent, group=service_desk, clock=clock, make_sla=make_sla)
    with CaptureQueriesContext(connection) as ctx:
        assert services.sweep(batch=4) == 44
    # Three batches (4 + 4 + 3 timers), about a dozen statements each.
    assert len(ctx.captured_queries) <= 3 * 14


def test_batched_mail_goes_out_through_the_worker(
    clock, agent, manager, service_desk, make_sla, run_tasks
):
    from django.core import mail

    _due_incidents(3, agent=agent, group=service_desk, clock=clock, make_sla=make_sla)
    assert services.sweep() == 12
    run_tasks()

    def to(user):
        return [
            m
            for m in mail.outbox
            if "] SLA " in m.subject and any(user.email in address for address in m.to)
        ]

    # assignee at 50 and 75, manager at 75, 90 and 100: per ticket.
    assert len(to(agent)) == 3 * 2
    assert len(to(manager)) == 3 * 3
    assert {d.status for d in Delivery.objects.filter(event="sla")} == {"sent"}


def test_a_threshold_fired_already_is_not_fired_again(
    clock, agent, manager, service_desk, make_sla
):
    """A stale copy saved over a fired timer makes it due again: the batch skips what
    has its escalation row (no second mail) and fires the rest."""
    (incident,) = _due_incidents(1, agent=agent, group=service_desk, clock=clock, make_sla=make_sla)
    clock.shift(-15 * MIN)  # 5 min in: 50 % is due
    assert services.sweep() == 1
    timer = SlaTimer.objects.get(ticket=incident)
    SlaTimer.objects.filter(pk=timer.pk).update(next_percent=50)  # the stale write
    clock.shift(15 * MIN)
    assert services.sweep() == 3  # 75, 90, 100; 50 not again
    assert sorted(SlaEscalation.objects.values_list("percent", flat=True)) == [50, 75, 90, 100]
    assert Delivery.objects.filter(event="sla", recipient=agent).count() == 2  # 50 and 75


def test_sweep_killed_inside_a_batch_fires_the_rest_once(
    clock, agent, manager, service_desk, make_sla, monkeypatch
):
    from mainspring.notifications import services as notifications

    _due_incidents(5, agent=agent, group=service_desk, clock=clock, make_sla=make_sla)
    real = notifications.queue_sla_notices
    calls = {"n": 0}

    def dying(notices):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real(notices)

    monkeypatch.setattr(notifications, "queue_sla_notices", dying)
    with pytest.raises(RuntimeError):
        services.sweep(batch=2)
    # The first batch (2 timers × 4 thresholds) committed with its mail; the second
    # rolled back: its escalations, deliveries and timers' progress.
    assert SlaEscalation.objects.count() == 8
    assert Delivery.objects.filter(event="sla").count() == 2 * 5
    monkeypatch.setattr(notifications, "queue_sla_notices", real)
    assert services.sweep(batch=2) == 12
    assert SlaEscalation.objects.count() == 20
    assert Delivery.objects.filter(event="sla").count() == 5 * 5
    assert JournalEntry.objects.filter(kind="work_note").count() == 5


def test_work_notes_of_a_batch_are_system_work_notes_in_one_insert(
    clock, agent, service_desk, make_sla
):
    """The sweep writes its work notes through core.add_system_entries: internal, no
    author, channel "system", one INSERT for the batch whatever its size."""
    from django.test.utils import CaptureQueriesContext

    make_sla(
        duration_seconds=600,
        thresholds=[{"percent": 100, "actions": [{"type": "work_note", "text": "Late!"}]}],
    )
    incidents = [make_incident(by=agent, assignment_group=service_desk) for _ in range(5)]
    clock.shift(20 * MIN)
    with CaptureQueriesContext(connection) as ctx:
        assert services.sweep() == 5
    journal = JournalEntry._meta.db_table
    assert sum(q["sql"].startswith("INSERT") and journal in q["sql"] for q in ctx) == 1
    notes = JournalEntry.objects.filter(kind="work_note")
    assert sorted(n.ticket_id for n in notes) == sorted(i.pk for i in incidents)
    assert {(n.body, n.author_id, n.channel) for n in notes} == {("Late!", None, "system")}
