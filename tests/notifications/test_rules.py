"""Who gets mail for what (locmem backend), and that nothing leaks or doubles."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.utils import timezone

from mainspring.core import taskqueue
from mainspring.core.models import BackgroundTask
from mainspring.core.services import add_journal_entry
from mainspring.identity.models import Role
from mainspring.incidents import services
from mainspring.notifications.models import Delivery, DeliveryStatus
from mainspring.notifications.services import (
    deliver,
    header_safe,
    requeue_stalled,
    suppress_notifications,
)
from mainspring.notifications.tasks import send_delivery
from tests.factories import GroupFactory, UserFactory, add_member, make_incident


def sent_to(address: str) -> list:
    return [m for m in mail.outbox if any(address in to for to in m.to)]


def test_work_note_sends_nothing_to_the_requester(requester, agent, run_tasks):
    incident = make_incident(by=requester)
    run_tasks()
    mail.outbox.clear()
    deliveries_before = Delivery.objects.count()

    add_journal_entry(incident, by=agent, kind="work_note", body="Internal: reboot the VPN box")
    run_tasks()

    assert mail.outbox == []
    assert Delivery.objects.count() == deliveries_before


def test_public_comment_by_someone_else_mails_the_requester(requester, agent, run_tasks):
    incident = make_incident(by=requester)
    add_journal_entry(incident, by=requester, kind="comment", body="Any news?")
    run_tasks()
    assert [m.subject for m in sent_to("alice@example.test")] == [
        f"[{incident.number}] Cannot connect to VPN"
    ]

    add_journal_entry(incident, by=agent, kind="comment", body="Working on it.")
    run_tasks()
    comment_mails = [m for m in sent_to("alice@example.test") if "New comment" in m.subject]
    assert len(comment_mails) == 1
    assert "Working on it." in comment_mails[0].body
    assert incident.web_url in comment_mails[0].body


def test_rollback_enqueues_nothing(requester, agent):
    with pytest.raises(RuntimeError), transaction.atomic():
        make_incident(by=agent, requester=requester)
        # The request writes one task; the worker writes the deliveries.
        (task,) = BackgroundTask.objects.all()
        assert task.task_path.endswith("write_event_deliveries")
        assert Delivery.objects.count() == 0
        raise RuntimeError("the service failed after publishing")

    assert Delivery.objects.count() == 0
    assert BackgroundTask.objects.count() == 0


def test_running_the_task_twice_sends_once(requester, agent, run_tasks):
    make_incident(by=agent, requester=requester)
    assert run_tasks(1) == 1  # the worker writes the delivery and enqueues its send
    delivery = Delivery.objects.get()
    send_delivery.enqueue(delivery.key)  # a duplicate task, as after a crash/replay

    ran = run_tasks()

    assert ran == 2
    assert len(mail.outbox) == 1
    assert deliver(delivery.key) == "not due or already handled"
    assert len(mail.outbox) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.attempts == 1


def test_assignment_mails_the_assignee_not_the_actor(
    requester, agent, other_agent, service_desk, run_tasks
):
    incident = make_incident(by=requester)
    services.assign(incident, by=agent, assignment_group=service_desk, assignee=other_agent)
    services.assign(incident, by=other_agent, assignee=other_agent)  # no change: no mail
    run_tasks()

    (msg,) = sent_to(other_agent.email)
    assert msg.subject == f"[{incident.number}] Assigned to you: {incident.title}"
    assert sent_to(agent.email) == []


def test_group_assignment_without_assignee_mails_its_agents(
    requester, agent, other_agent, manager, service_desk, run_tasks
):
    stray = UserFactory(username="stray", role=Role.REQUESTER)
    add_member(service_desk, stray)  # not an agent: may not see the ticket
    incident = make_incident(by=requester)

    services.assign(incident, by=agent, assignment_group=service_desk)
    run_tasks()

    assigned = {m.to[0] for m in mail.outbox if "Assigned to Service Desk" in m.subject}
    # The actor (agent) is not told about their own action; the requester-role member
    # may not see the ticket, so never hears of it.
    assert {a.split("<")[-1].rstrip(">") for a in assigned} == {
        other_agent.email,
        manager.email,
    }


def test_group_mailbox_is_used_when_set(requester, agent, run_tasks):
    network = GroupFactory(name="Network", email="network@example.test")
    make_incident(by=agent, requester=requester, assignment_group=network)
    run_tasks()

    (msg,) = sent_to("network@example.test")
    assert "Assigned to Network" in msg.subject


def test_recipient_who_lost_access_is_skipped(requester, agent, run_tasks):
    make_incident(by=agent, requester=requester)
    run_tasks(1)  # the delivery is written while the requester is active
    requester.is_active = False
    requester.save(update_fields=["is_active"])

    run_tasks()

    assert mail.outbox == []
    assert Delivery.objects.get().status == DeliveryStatus.SKIPPED


def test_suppressed_changes_queue_nothing(requester, agent, run_tasks):
    with suppress_notifications():
        make_incident(by=agent, requester=requester)
    run_tasks()
    assert Delivery.objects.count() == 0
    assert mail.outbox == []


def test_a_send_task_run_again_takes_back_the_delivery_its_dead_worker_claimed(
    requester, agent, run_tasks, settings
):
    settings.TASK_LEASE_SECONDS = 60
    make_incident(by=agent, requester=requester)
    run_tasks(1)  # the delivery is written and its send task queued
    delivery = Delivery.objects.get()
    # The send task's first attempt claims the delivery, then its worker is killed
    # (between the SMTP server's "250" and the ledger's "sent", say).
    first = taskqueue.claim("doomed")
    assert first.task_path == send_delivery.module_path
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENDING,
        claimed_at=timezone.now(),
        claimed_by=f"task:{first.pk}",
        attempts=1,
    )
    duplicate = send_delivery.enqueue(delivery.key)  # as a replayed write would add

    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        assert run_tasks() == 2  # the lease ran out: the task runs again, and the duplicate

    results = dict(BackgroundTask.objects.filter(status="done").values_list("pk", "return_value"))
    assert results[int(duplicate.id)] == "not due or already handled"  # not its claim
    assert results[first.pk] == "sent"  # its own claim: taken back at once
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
    assert len(mail.outbox) == 1


def test_stalled_delivery_is_requeued_and_sent(requester, agent, run_tasks):
    make_incident(by=agent, requester=requester)
    run_tasks(1)
    delivery = Delivery.objects.get()
    # A worker claimed it and died before sending; its task row is gone too.
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENDING,
        claimed_at=timezone.now() - timedelta(hours=1),
        attempts=1,
    )
    BackgroundTask.objects.all().delete()

    assert requeue_stalled() == 1
    assert requeue_stalled() == 0  # claimed by the first sweep
    run_tasks()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.attempts == 2
    assert len(mail.outbox) == 1


def test_header_safe_strips_line_breaks_and_controls():
    assert header_safe("a\r\nBcc: x@evil\x00\u2028b") == "a Bcc: x@evil b"
    assert len(header_safe("x" * 1000)) == 200


def test_resolution_mail_has_the_notes(requester, agent, run_tasks):
    incident = make_incident(by=requester)
    services.start(incident, by=agent)
    services.resolve(incident, by=agent, code="workaround", notes="Use the web client.")
    run_tasks()

    (msg,) = [m for m in sent_to(requester.email) if "Resolved" in m.subject]
    assert "Use the web client." in msg.body
    assert msg.extra_headers["References"].startswith(f"<ticket.{incident.number.lower()}@")


def test_recipient_who_lost_access_before_the_worker_ran_gets_no_delivery(
    requester, agent, run_tasks
):
    make_incident(by=agent, requester=requester)
    requester.is_active = False
    requester.save(update_fields=["is_active"])
    run_tasks()
    assert Delivery.objects.count() == 0
    assert mail.outbox == []


def test_one_task_row_per_change_whatever_the_recipients(
    requester, agent, other_agent, manager, service_desk, run_tasks
):
    make_incident(by=agent, requester=requester, assignment_group=service_desk)
    # created (the requester's receipt) and assigned (two agents of the group): one row
    assert BackgroundTask.objects.count() == 1
    run_tasks()
    assert {d.event for d in Delivery.objects.all()} == {"created", "assigned"}
    assert Delivery.objects.count() == 3
    assert len(mail.outbox) == 3


def test_mail_says_what_the_change_said_when_the_worker_is_late(requester, agent, run_tasks):
    incident = make_incident(by=requester)
    services.start(incident, by=agent)
    services.resolve(incident, by=agent, code="workaround", notes="Use the web client.")
    services.reopen(incident, by=requester, reason="Still broken")  # before any worker ran
    run_tasks()
    (msg,) = [m for m in sent_to(requester.email) if "Resolved" in m.subject]
    assert "Use the web client." in msg.body


def test_reassigned_before_the_worker_ran_mails_only_the_new_assignee(
    requester, agent, other_agent, manager, service_desk, run_tasks
):
    incident = make_incident(by=requester)
    services.assign(incident, by=manager, assignment_group=service_desk, assignee=other_agent)
    services.assign(incident, by=manager, assignee=agent)
    run_tasks()
    assert [m.subject for m in sent_to(agent.email)] == [
        f"[{incident.number}] Assigned to you: {incident.title}"
    ]
    assert sent_to(other_agent.email) == []
