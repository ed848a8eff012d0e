"""Recomputing running timers after an SLA or calendar edit (a background job)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext

from mainspring.core.models import AuditEntry, Ticket
from mainspring.identity.models import Role
from mainspring.identity.policy import Forbidden
from mainspring.incidents import services as incidents
from mainspring.sla import recompute, services
from mainspring.sla.models import (
    BusinessCalendar,
    SlaEscalation,
    SlaRecompute,
    SlaTimer,
)
from mainspring.sla.recompute import RecomputePending, request_recompute, rerun_recompute
from tests.factories import UserFactory, make_incident

from .conftest import T0

MIN = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
MON_FRI = [0, 1, 2, 3, 4]


def office(name: str = "Office", hours=(("09:00", "17:00"),)) -> BusinessCalendar:
    return BusinessCalendar.objects.create(
        name=name, time_zone="UTC", hours={str(d): [list(h) for h in hours] for d in MON_FRI}
    )


def timer_of(ticket, name: str | None = None) -> SlaTimer:
    qs = SlaTimer.objects.filter(ticket=ticket)
    return qs.get(name=name) if name else qs.get()


def recompute_now(run_tasks, by, **target) -> SlaRecompute:
    job = request_recompute(by=by, **target)
    assert run_tasks() >= 1
    job.refresh_from_db()
    return job


# -- deadlines -------------------------------------------------------------------------
def test_longer_duration_applies_only_after_recompute(clock, agent, admin, make_sla, run_tasks):
    sla = make_sla(duration_seconds=3600)
    incident = make_incident(by=agent)
    clock.shift(20 * MIN)
    services.save_definition(by=admin, instance=sla, duration_seconds=7200)
    timer = timer_of(incident)
    assert timer.breach_at == T0 + 60 * MIN  # the running timer keeps its snapshot

    job = request_recompute(by=admin, definition=sla)
    assert (job.state, job.done, job.total) == ("queued", 0, 0)
    assert timer_of(incident).breach_at == T0 + 60 * MIN  # nothing until the task runs
    run_tasks()

    job.refresh_from_db()
    assert (job.state, job.done, job.total, job.percent) == ("done", 1, 1, 100)
    assert job.finished_at == T0 + 20 * MIN
    timer = timer_of(incident)
    assert timer.duration_seconds == 7200
    assert timer.banked_us == 20 * 60 * 1_000_000  # the 20 minutes used so far
    assert timer.running_since == T0 + 20 * MIN
    assert timer.breach_at == T0 + 120 * MIN
    assert timer.at_risk_at == T0 + 90 * MIN  # 75 % of two hours
    assert timer.next_percent == 50
    assert timer.next_threshold_at == T0 + 60 * MIN
    assert services.elapsed_seconds(timer) == 20 * 60
    incident.refresh_from_db()
    assert incident.sla_breach_at == T0 + 120 * MIN
    assert incident.sla_at_risk_at == T0 + 90 * MIN
    audit = AuditEntry.objects.get(ticket=incident, field="sla:SLA 1")
    assert (audit.old_value, audit.new_value) == (
        "2026-06-01T09:00:00+00:00",
        "2026-06-01T10:00:00+00:00",
    )
    assert (audit.channel, audit.actor) == ("system", admin)


def test_shorter_duration_fires_passed_thresholds_on_next_sweep_once(
    clock, agent, admin, make_sla, run_tasks
):
    sla = make_sla(duration_seconds=3600)
    incident = make_incident(by=agent)
    clock.shift(46 * MIN)
    assert services.sweep() == 2  # 50 % and 75 %
    services.save_definition(by=admin, instance=sla, duration_seconds=40 * 60)
    recompute_now(run_tasks, admin, definition=sla)

    timer = timer_of(incident)
    # 46 of 40 minutes used: the new budget runs out as it applies (breached now), but
    # no threshold fires inline.
    assert timer.state == "breached" and timer.breached_at == T0 + 46 * MIN
    assert timer.next_percent == 90
    assert timer.next_threshold_at == T0 + 46 * MIN  # due: the next sweep fires it
    assert timer.breach_at == T0 + 46 * MIN
    assert sorted(SlaEscalation.objects.values_list("percent", flat=True)) == [50, 75]

    assert services.sweep() == 2  # 90 % and 100 %; 50 and 75 are not fired again
    assert services.sweep() == 0
    timer.refresh_from_db()
    assert timer.state == "breached" and timer.breached_at == T0 + 46 * MIN
    assert timer.next_threshold_at is None
    assert sorted(SlaEscalation.objects.values_list("percent", flat=True)) == [50, 75, 90, 100]


def test_new_thresholds_skip_fired_ones(clock, agent, admin, make_sla, run_tasks):
    sla = make_sla(duration_seconds=3600)
    incident = make_incident(by=agent)
    clock.shift(31 * MIN)
    assert services.sweep() == 1  # 50 %
    thresholds = [{"percent": p, "actions": []} for p in (25, 50, 80)]
    services.save_definition(by=admin, instance=sla, thresholds=thresholds)
    recompute_now(run_tasks, admin, definition=sla)
    timer = timer_of(incident)
    # 25 % was never fired (it did not exist): it is due now; 50 % stays fired.
    assert timer.next_percent == 25 and timer.next_threshold_at == T0 + 31 * MIN
    clock.shift(MIN)
    assert services.sweep() == 1
    timer.refresh_from_db()
    assert timer.next_percent == 80 and timer.next_threshold_at == T0 + 48 * MIN
    assert sorted(SlaEscalation.objects.values_list("percent", flat=True)) == [25, 50]


def test_new_calendar_on_the_sla(clock, agent, admin, make_sla, run_tasks):
    sla = make_sla(duration_seconds=10 * 3600)
    incident = make_incident(by=agent)
    clock.shift(2 * HOUR)  # Monday 10:00 UTC, two hours used on the 24×7 calendar
    services.save_definition(by=admin, instance=sla, calendar=office())
    assert timer_of(incident).breach_at == T0 + 10 * HOUR
    recompute_now(run_tasks, admin, definition=sla)
    timer = timer_of(incident)
    assert timer.banked_us == 2 * 3600 * 1_000_000
    # Eight hours left in office hours: Monday 10:00–17:00, then Tuesday 09:00–10:00.
    assert timer.breach_at == dt.datetime(2026, 6, 2, 10, 0, tzinfo=dt.UTC)
    assert timer.calendar_config["hours"]["0"] == [["09:00", "17:00"]]


def test_calendar_edit_banks_time_on_the_old_hours(clock, agent, admin, make_sla, run_tasks):
    calendar = office()
    make_sla(name="Fix", duration_seconds=8 * 3600, calendar=calendar)
    make_sla(name="Answer", target="response", duration_seconds=4 * 3600, calendar=calendar)
    make_sla(name="Elsewhere", duration_seconds=4 * 3600)  # the 24×7 test calendar
    incident = make_incident(by=agent)  # Monday 08:00: the office opens at 09:00
    clock.shift(3 * HOUR)  # 11:00: two office hours used
    services.save_calendar(by=admin, instance=calendar, hours={"0": [["08:00", "12:00"]]})
    other = timer_of(incident, "Elsewhere")
    assert timer_of(incident, "Fix").breach_at == T0 + 9 * HOUR  # Monday 17:00, unchanged

    job = recompute_now(run_tasks, admin, calendar=calendar)
    assert (job.state, job.total, job.done) == ("done", 2, 2)
    fix, answer = timer_of(incident, "Fix"), timer_of(incident, "Answer")
    # Two hours banked on the old hours (not three on the new 08:00–12:00); six left:
    # Monday 11–12, Monday 8–12 next week (the new calendar is open on Mondays only)...
    assert fix.banked_us == answer.banked_us == 2 * 3600 * 1_000_000
    assert fix.breach_at == dt.datetime(2026, 6, 15, 9, 0, tzinfo=dt.UTC)
    # ...and the response SLA's two hours left: Monday 11–12, next Monday 08–09.
    assert answer.breach_at == dt.datetime(2026, 6, 8, 9, 0, tzinfo=dt.UTC)
    assert timer_of(incident, "Elsewhere").banked_us == other.banked_us == 0
    incident.refresh_from_db()
    assert incident.sla_breach_at == other.breach_at == T0 + 4 * HOUR
    # A new ticket starts on the new hours directly.
    later = make_incident(by=agent)
    assert timer_of(later, "Fix").calendar_config["hours"] == {"0": [["08:00", "12:00"]]}


def test_ticket_deadline_is_the_soonest_of_all_its_timers(clock, agent, admin, make_sla, run_tasks):
    answer = make_sla(name="Answer", target="response", duration_seconds=30 * 60)
    make_sla(name="Fix", duration_seconds=3600)
    incident = make_incident(by=agent)
    assert Ticket.objects.get(pk=incident.pk).sla_breach_at == T0 + 30 * MIN
    clock.shift(10 * MIN)
    services.save_definition(by=admin, instance=answer, duration_seconds=2 * 3600)
    recompute_now(run_tasks, admin, definition=answer)
    assert timer_of(incident, "Answer").breach_at == T0 + 120 * MIN
    # The resolution timer (not recomputed) is now the soonest.
    assert Ticket.objects.get(pk=incident.pk).sla_breach_at == T0 + 60 * MIN


# -- pauses, breaches, stopped timers --------------------------------------------------
def test_pause_states_are_re_evaluated(clock, agent, admin, make_sla, run_tasks):
    sla = make_sla(duration_seconds=3600, pause_states=["on_hold"])
    held = make_incident(by=agent)
    running = make_incident(by=agent)
    clock.shift(10 * MIN)
    incidents.hold(held, by=agent, hold_reason="awaiting_caller")
    assert timer_of(held).state == "paused"
    clock.shift(30 * MIN)
    # "on hold" no longer pauses; "new" does.
    services.save_definition(by=admin, instance=sla, duration_seconds=7200, pause_states=["new"])
    recompute_now(run_tasks, admin, definition=sla)

    resumed = timer_of(held)
    assert resumed.state == "in_progress"
    assert resumed.banked_us == 10 * 60 * 1_000_000  # the held half hour did not count
    assert resumed.breach_at == T0 + 40 * MIN + 110 * MIN
    paused = timer_of(running)
    assert paused.state == "paused" and paused.running_since is None
    assert paused.banked_us == 40 * 60 * 1_000_000
    assert paused.breach_at is None and paused.next_threshold_at is None
    assert Ticket.objects.get(pk=running.pk).sla_breach_at is None
    assert Ticket.objects.get(pk=held.pk).sla_breach_at == T0 + 150 * MIN


def test_paused_timer_stays_paused_with_the_new_duration(clock, agent, admin, make_sla, run_tasks):
    sla = make_sla(duration_seconds=3600, pause_states=["on_hold"])
    incident = make_incident(by=agent)
    clock.shift(10 * MIN)
    incidents.hold(incident, by=agent, hold_reason="awaiting_caller")
    clock.shift(MIN)
    services.save_definition(by=admin, instance=sla, duration_seconds=1800)
    recompute_now(run_tasks, admin, definition=sla)
    timer = timer_of(incident)
    assert (timer.state, timer.duration_seconds, timer.breach_at) == ("paused", 1800, None)
    assert timer.banked_us == 10 * 60 * 1_000_000
    clock.shift(HOUR)
    incidents.resume(incident, by=agent)
    timer.refresh_from_db()
    assert timer.breach_at == T0 + 71 * MIN + 20 * MIN


def test_breached_timer_stays_breached(clock, agent, admin, make_sla, run_tasks):
    sla = make_sla(duration_seconds=600)
    incident = make_incident(by=agent)
    clock.shift(15 * MIN)
    assert services.sweep() == 4
    services.save_definition(by=admin, instance=sla, duration_seconds=7200)
    recompute_now(run_tasks, admin, definition=sla)
    timer = timer_of(incident)
    assert timer.duration_seconds == 7200
    assert timer.state == "breached" and timer.breached_at == T0 + 10 * MIN
    assert timer.breach_at == T0 + 10 * MIN
    assert timer.next_percent is None and timer.next_threshold_at is None
    assert services.sweep() == 0
    assert SlaEscalation.objects.count() == 4


def test_stopped_and_cancelled_timers_are_untouched(clock, agent, admin, make_sla, run_tasks):
    sla = make_sla(name="P3 fix", priorities=[3], duration_seconds=3600)
    make_sla(name="P1 fix", priorities=[1], duration_seconds=3600)
    resolved = make_incident(by=agent, impact="medium", urgency="medium")
    moved = make_incident(by=agent, impact="medium", urgency="medium")
    open_ = make_incident(by=agent, impact="medium", urgency="medium")
    clock.shift(10 * MIN)
    incidents.resolve(resolved, by=agent, code="solved", notes="done")
    incidents.update_incident(moved, by=agent, impact="high", urgency="high")
    assert timer_of(moved, "P3 fix").state == "cancelled"
    before = {
        t.pk: (t.duration_seconds, t.breach_at, t.banked_us, t.state)
        for t in SlaTimer.objects.exclude(ticket=open_)
    }
    services.save_definition(by=admin, instance=sla, duration_seconds=7200)
    job = recompute_now(run_tasks, admin, definition=sla)
    assert (job.total, job.done) == (1, 1)
    after = {
        t.pk: (t.duration_seconds, t.breach_at, t.banked_us, t.state)
        for t in SlaTimer.objects.exclude(ticket=open_)
    }
    assert after == before
    assert timer_of(open_).duration_seconds == 7200


def test_unchanged_timers_are_left_alone_and_a_rerun_changes_nothing(
    clock, agent, admin, make_sla, run_tasks
):
    sla = make_sla(duration_seconds=3600)
    old = make_incident(by=agent)
    clock.shift(5 * MIN)
    services.save_definition(by=admin, instance=sla, duration_seconds=7200)
    new = make_incident(by=agent)  # started with the new snapshot
    clock.shift(5 * MIN)
    job = request_recompute(by=admin, definition=sla)
    run_tasks()
    assert (timer_of(old).breach_at, timer_of(new).breach_at) == (
        T0 + 120 * MIN,
        T0 + 125 * MIN,
    )
    assert timer_of(new).running_since == T0 + 5 * MIN  # not touched
    job.refresh_from_db()
    assert (job.total, job.done) == (2, 2)
    clock.shift(5 * MIN)
    assert recompute.run_recompute(request_recompute(by=admin, definition=sla).pk) == 0
    assert timer_of(old).breach_at == T0 + 120 * MIN
    assert AuditEntry.objects.filter(field__startswith="sla:").count() == 1


# -- the job ---------------------------------------------------------------------------
def test_batches_record_progress_and_let_other_tasks_run(
    clock, agent, admin, make_sla, run_tasks, monkeypatch
):
    from mainspring.core.models import BackgroundTask
    from mainspring.sla.tasks import sweep_sla_escalations

    sla = make_sla(duration_seconds=3600)
    tickets = [make_incident(by=agent) for _ in range(5)]
    services.save_definition(by=admin, instance=sla, duration_seconds=7200)
    monkeypatch.setattr(recompute, "BATCH_SIZE", 2)
    monkeypatch.setattr(recompute, "BATCHES_PER_TASK", 2)
    seen: list[tuple[str, int, int, int, bool]] = []
    real = recompute._recompute_batch

    def swept() -> bool:
        return BackgroundTask.objects.filter(
            task_path__endswith="sweep_sla_escalations", status="done"
        ).exists()

    def spy(job, definition_ids, rows, now):
        row = SlaRecompute.objects.get(pk=job.pk)
        seen.append((row.state, row.done, row.total, len(rows), swept()))
        if len(seen) == 1:  # a sweep falls due while the recompute runs
            sweep_sla_escalations.enqueue()
            clock.shift(dt.timedelta(seconds=1))
        return real(job, definition_ids, rows, now)

    monkeypatch.setattr(recompute, "_recompute_batch", spy)
    job = recompute_now(run_tasks, admin, definition=sla)
    # Two batches in the first task, then the sweep, then the continuation's batch.
    assert seen == [
        ("running", 0, 5, 2, False),
        ("running", 2, 5, 2, False),
        ("running", 4, 5, 1, True),
    ]
    assert (job.state, job.done, job.total, job.percent) == ("done", 5, 5, 100)
    assert all(timer_of(t).breach_at == T0 + 2 * HOUR for t in tickets)
    runs = BackgroundTask.objects.filter(task_path__endswith="recompute_sla_timers")
    assert runs.count() == 2 and {r.status for r in runs} == {"done"}


def test_a_failed_job_says_why_and_runs_again(
    clock, agent, admin, make_sla, run_tasks, monkeypatch, settings
):
    sla = make_sla(duration_seconds=3600)
    tickets = [make_incident(by=agent) for _ in range(3)]
    services.save_definition(by=admin, instance=sla, duration_seconds=7200)
    monkeypatch.setattr(recompute, "BATCH_SIZE", 2)
    real = recompute._recompute_batch
    calls = []

    def flaky(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real(*args)

    monkeypatch.setattr(recompute, "_recompute_batch", flaky)
    settings.TASK_MAX_ATTEMPTS = 2
    job = recompute_now(run_tasks, admin, definition=sla)
    # The runner will try again: the job waits, says why, and blocks a second chain.
    assert job.state == "queued" and job.finished_at is None
    assert job.error == "RuntimeError: database went away (will try again shortly)"
    assert (job.done, job.total) == (2, 3)  # the first batch committed
    assert [timer_of(t).duration_seconds for t in tickets] == [7200, 7200, 3600]
    with pytest.raises(RecomputePending):
        request_recompute(by=admin, definition=sla)
    calls.clear()  # the retry (after a backoff of about 30 s) fails again: its last attempt
    clock.shift(MIN)
    run_tasks()
    job.refresh_from_db()
    assert job.state == "failed" and job.finished_at == T0 + MIN
    assert job.error == "RuntimeError: database went away"
    clock.shift(MIN)
    again = rerun_recompute(by=admin, job=job)
    assert again.state == "queued" and again.error == ""
    monkeypatch.setattr(recompute, "_recompute_batch", real)
    run_tasks()
    job.refresh_from_db()
    assert (job.state, job.done, job.total, job.error) == ("done", 3, 3, "")
    assert [timer_of(t).breach_at for t in tickets] == [T0 + 2 * HOUR] * 3
    # Each ticket was audited once: the re-runs left what was done alone.
    assert AuditEntry.objects.filter(field="sla:SLA 1").count() == 3


def test_a_second_request_is_refused_while_one_is_pending(clock, agent, admin, make_sla, run_tasks):
    sla = make_sla()
    other = make_sla()
    make_incident(by=agent)
    first = request_recompute(by=admin, definition=sla)
    with pytest.raises(RecomputePending, match=f"already queued \\(job {first.pk}"):
        request_recompute(by=admin, definition=sla)
    # Another SLA, or the calendar, is another target.
    request_recompute(by=admin, definition=other)
    request_recompute(by=admin, calendar=sla.calendar)
    run_tasks()
    assert set(SlaRecompute.objects.values_list("state", flat=True)) == {"done"}
    assert request_recompute(by=admin, definition=sla).state == "queued"


def test_a_failed_job_does_not_block_a_new_request(clock, admin, make_sla):
    sla = make_sla()
    failed = SlaRecompute.objects.create(definition=sla, state="failed")
    assert request_recompute(by=admin, definition=sla).state == "queued"
    with pytest.raises(RecomputePending):  # the new one is pending: no second one
        rerun_recompute(by=admin, job=failed)
    with pytest.raises(recompute.RecomputeNotRestartable):
        done = SlaRecompute.objects.create(definition=sla, state="done")
        rerun_recompute(by=admin, job=done)


def test_only_admins_request(agent, manager, admin, make_sla):
    sla = make_sla()
    for user in (agent, manager):
        with pytest.raises(Forbidden):
            request_recompute(by=user, definition=sla)
    with pytest.raises(ValueError):
        request_recompute(by=admin)
    assert not SlaRecompute.objects.exists()


def test_batch_reads_do_not_grow_with_the_batch(clock, agent, admin, make_sla, run_tasks):
    sla = make_sla(duration_seconds=3600)

    def selects_for(count: int) -> tuple[int, int]:
        for _ in range(count):
            make_incident(by=agent)
        services.save_definition(by=admin, instance=sla, duration_seconds=sla.duration_seconds + 60)
        job = request_recompute(by=admin, definition=sla)
        with CaptureQueriesContext(connection) as ctx:
            recompute.run_recompute(job.pk)
        sql = [q["sql"].lstrip().upper() for q in ctx.captured_queries]
        return sum(s.startswith("SELECT") for s in sql), len(sql)

    small_selects, small_all = selects_for(2)
    big_selects, big_all = selects_for(6)  # eight running timers now, one batch
    assert big_selects == small_selects
    # Per ticket only its deadline update (and its timer's on SQLite; PostgreSQL
    # updates the batch's timers in one statement). The audit rows are one insert.
    assert big_all - small_all == 6 * (1 if connection.vendor == "postgresql" else 2)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("locked", ["ticket", "timer"])
def test_recompute_waits_for_rows_others_hold_and_skips_none(make_sla, locked):
    """A ticket change (ticket row) or a sweep (timer row) in progress: the recompute
    waits for it (here: gives up after a lock timeout) instead of skipping the timer."""
    with time_machine.travel(T0, tick=False) as clock:
        boss = UserFactory(username="boss", role=Role.ADMIN, is_superuser=True)
        worker = UserFactory(username="worker", role=Role.AGENT)
        sla = make_sla(duration_seconds=3600)
        incident = make_incident(by=worker)
        clock.shift(10 * MIN)
        services.save_definition(by=boss, instance=sla, duration_seconds=7200)
        job = request_recompute(by=boss, definition=sla)
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:
            try:
                with transaction.atomic():
                    if locked == "ticket":
                        rows = Ticket.objects.select_for_update().filter(pk=incident.pk)
                    else:
                        rows = SlaTimer.objects.select_for_update().filter(ticket_id=incident.pk)
                    assert len(list(rows)) == 1
                    holding.set()
                    release.wait(30)
            finally:
                connection.close()

        thread = threading.Thread(target=hold)
        thread.start()
        assert holding.wait(30)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '300ms'")
            with pytest.raises(OperationalError):
                recompute.run_recompute(job.pk)
        finally:
            release.set()
            thread.join()
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = 0")
        job.refresh_from_db()
        assert job.state == "failed" and "lock timeout" in job.error
        assert timer_of(incident).duration_seconds == 3600  # not skipped as "done"
        rerun_recompute(by=boss, job=job)
        assert recompute.run_recompute(job.pk) == 1
        job.refresh_from_db()
        assert job.state == "done"
        assert timer_of(incident).breach_at == T0 + 120 * MIN


# -- API -------------------------------------------------------------------------------
def test_api_recompute_and_progress(clock, api_for, agent, requester, admin, make_sla, run_tasks):
    sla = make_sla(duration_seconds=3600)
    incident = make_incident(by=agent)
    api = api_for(admin)
    patched = api.patch(f"/api/v1/slas/{sla.pk}/", {"duration_seconds": 7200}, format="json")
    assert patched.status_code == 200
    for user in (agent, requester):
        denied = api_for(user).post(f"/api/v1/slas/{sla.pk}/recompute/")
        assert denied.status_code == 403, user
        assert denied.json()["error"]["code"] == "forbidden"
    assert not SlaRecompute.objects.exists()
    assert api.post("/api/v1/slas/999999/recompute/").status_code == 404
    bad = api.post(f"/api/v1/slas/{sla.pk}/recompute/", {"now": "x"}, format="json")
    assert bad.status_code == 400 and "now" in bad.json()["error"]["fields"]

    response = api.post(f"/api/v1/slas/{sla.pk}/recompute/")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["definition"] == sla.pk and body["calendar"] is None
    assert body["target_name"] == sla.name
    assert (body["state"], body["done"], body["total"], body["percent"]) == ("queued", 0, 0, 0)
    assert body["requested_by"] == "admin"
    again = api.post(f"/api/v1/slas/{sla.pk}/recompute/")
    assert again.status_code == 409
    assert again.json()["error"]["job"] == body["id"]
    assert "already queued" in again.json()["error"]["message"]

    run_tasks()
    detail = api.get(f"/api/v1/sla-recomputes/{body['id']}/").json()
    assert (detail["state"], detail["done"], detail["total"], detail["percent"]) == (
        "done",
        1,
        1,
        100,
    )
    assert detail["finished_at"] is not None
    assert timer_of(incident).breach_at == T0 + 2 * HOUR

    calendar_job = api.post(f"/api/v1/calendars/{sla.calendar_id}/recompute/")
    assert calendar_job.status_code == 202
    assert calendar_job.json()["calendar"] == sla.calendar_id
    listing = api.get("/api/v1/sla-recomputes/")
    assert listing.status_code == 200
    assert [j["id"] for j in listing.json()["results"]] == [calendar_job.json()["id"], body["id"]]
    assert api.get("/api/v1/sla-recomputes/?state=done").status_code == 400
    for user in (agent, requester):
        assert api_for(user).get("/api/v1/sla-recomputes/").status_code == 403
        assert api_for(user).get(f"/api/v1/sla-recomputes/{body['id']}/").status_code == 403


def test_api_job_list_is_one_query_per_page(
    api_for, admin, make_sla, django_assert_max_num_queries
):
    sla = make_sla()
    calendar = BusinessCalendar.objects.get(name="24×7")
    for _ in range(5):
        SlaRecompute.objects.create(definition=sla, state="done", requested_by=admin)
        SlaRecompute.objects.create(calendar=calendar, state="done", requested_by=admin)
    api = api_for(admin)
    api.get("/api/v1/sla-recomputes/")  # warm the token lookup path
    with django_assert_max_num_queries(4):
        response = api.get("/api/v1/sla-recomputes/?page_size=10")
    assert len(response.json()["results"]) == 10


# -- admin -----------------------------------------------------------------------------
def test_admin_action_and_progress_list(clock, client, agent, admin, make_sla, run_tasks):
    sla = make_sla(duration_seconds=3600)
    incident = make_incident(by=agent)
    services.save_definition(by=admin, instance=sla, duration_seconds=7200)
    client.force_login(admin)
    response = client.post(
        "/admin/sla/sladefinition/",
        {"action": "recompute_running_timers", "_selected_action": [sla.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "follow its progress" in response.content.decode()
    job = SlaRecompute.objects.get(definition=sla)
    # Asking again while it is queued: a warning, no second job.
    response = client.post(
        "/admin/sla/sladefinition/",
        {"action": "recompute_running_timers", "_selected_action": [sla.pk]},
        follow=True,
    )
    assert "already queued" in response.content.decode()
    assert SlaRecompute.objects.count() == 1
    run_tasks()
    assert timer_of(incident).breach_at == T0 + 2 * HOUR
    page = client.get("/admin/sla/slarecompute/").content.decode()
    assert "SLA: SLA 1" in page and "1 / 1" in page and "100 %" in page
    assert client.get(f"/admin/sla/slarecompute/{job.pk}/change/").status_code == 200


def test_admin_change_form_button_and_confirmation(client, admin, make_sla, always):
    sla = make_sla()
    client.force_login(admin)
    form = client.get(f"/admin/sla/businesscalendar/{always.pk}/change/").content.decode()
    url = f"/admin/sla/businesscalendar/{always.pk}/recompute/"
    assert url in form
    assert (
        f"/admin/sla/sladefinition/{sla.pk}/recompute/"
        in client.get(f"/admin/sla/sladefinition/{sla.pk}/change/").content.decode()
    )
    confirm = client.get(url)
    assert confirm.status_code == 200 and "Yes, recompute" in confirm.content.decode()
    assert not SlaRecompute.objects.exists()
    response = client.post(url)
    job = SlaRecompute.objects.get(calendar=always)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/sla/slarecompute/{job.pk}/change/"


def test_admin_recompute_is_for_administrators_only(client, make_sla, always):
    # A superuser whose role is agent reaches the admin site but is no administrator.
    staff_agent = UserFactory(username="sa", role=Role.AGENT, is_superuser=True)
    sla = make_sla()
    client.force_login(staff_agent)
    changelist = client.get("/admin/sla/sladefinition/").content.decode()
    assert "recompute_running_timers" not in changelist
    client.post(
        "/admin/sla/sladefinition/",
        {"action": "recompute_running_timers", "_selected_action": [sla.pk]},
    )
    assert client.post(f"/admin/sla/businesscalendar/{always.pk}/recompute/").status_code == 403
    assert (
        f"/admin/sla/sladefinition/{sla.pk}/recompute/"
        not in client.get(f"/admin/sla/sladefinition/{sla.pk}/change/").content.decode()
    )
    # Nor may they change SLAs (saves go through the service, which would refuse).
    assert client.post(f"/admin/sla/sladefinition/{sla.pk}/change/", {}).status_code == 403
    assert not SlaRecompute.objects.exists()


def test_admin_saves_go_through_the_service(client, admin, make_sla, always):
    sla = make_sla(duration_seconds=3600)
    client.force_login(admin)
    data = {
        "name": sla.name,
        "active": "on",
        "target": "resolution",
        "duration_seconds": "5400",
        "calendar": str(always.pk),
        "kinds": "[]",
        "priorities": "[]",
        "category_ids": "[]",
        "requester_group_ids": "[]",
        "assignment_group_ids": "[]",
        "pause_states": "[]",
        "reopen": "resume",
        "thresholds": '[{"percent": 50, "actions": []}]',
    }
    response = client.post(f"/admin/sla/sladefinition/{sla.pk}/change/", data, follow=True)
    assert response.status_code == 200
    assert "Running timers keep the settings they started with" in response.content.decode()
    sla.refresh_from_db()
    assert sla.duration_seconds == 5400


def test_admin_runs_a_failed_job_again(clock, client, agent, admin, make_sla, run_tasks):
    sla = make_sla(duration_seconds=3600)
    incident = make_incident(by=agent)
    services.save_definition(by=admin, instance=sla, duration_seconds=7200)
    failed = SlaRecompute.objects.create(definition=sla, state="failed", error="boom")
    finished = SlaRecompute.objects.create(definition=sla, state="done")
    client.force_login(admin)
    response = client.post(
        "/admin/sla/slarecompute/",
        {"action": "run_again", "_selected_action": [failed.pk, finished.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert f"Job {failed.pk} queued again." in page
    assert f"Job {finished.pk} has finished." in page
    failed.refresh_from_db()
    assert (failed.state, failed.error) == ("queued", "")
    run_tasks()
    failed.refresh_from_db()
    assert failed.state == "done"
    assert timer_of(incident).breach_at == T0 + 2 * HOUR


def test_progress_percent_of_a_job_not_started_is_zero(db):
    from mainspring.sla.models import RecomputeState, SlaRecompute

    assert SlaRecompute(state=RecomputeState.QUEUED).percent == 0
    assert SlaRecompute(state=RecomputeState.DONE).percent == 100  # nothing to do: done
    assert SlaRecompute(state=RecomputeState.RUNNING, total=8, done=2).percent == 25
