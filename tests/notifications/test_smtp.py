"""Notifications travel through a real SMTP server and arrive as people expect."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.utils import timezone

from mainspring.core.services import add_journal_entry
from mainspring.incidents import services
from mainspring.notifications.models import Delivery, DeliveryStatus
from tests.factories import make_incident


def test_create_mails_the_requester_through_smtp(smtp_inbox, requester, agent, run_tasks):
    incident = make_incident(by=agent, requester=requester, title="VPN down")

    run_tasks()

    mails = smtp_inbox.to("alice@example.test")
    assert len(mails) == 1
    msg = mails[0]
    assert msg["Subject"] == f"[{incident.number}] VPN down"
    assert incident.number.startswith("INC")
    body = msg.get_content()
    assert "http://testserver/tickets/" in incident.web_url
    assert incident.web_url in body
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Mainspring-Ticket"] == incident.number
    delivery = Delivery.objects.get(ticket=incident, recipient=requester)
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.attempts == 1
    assert delivery.sent_at is not None


def test_header_injection_is_stripped_and_mail_still_sent(smtp_inbox, requester, agent, run_tasks):
    requester.display_name = "Alice\r\nBcc: spy@evil.test"
    requester.save(update_fields=["display_name"])
    incident = make_incident(by=agent, requester=requester, title="Printer\r\nBcc: x@evil.test")

    run_tasks()

    all_rcpts = [r for rcpts, _ in smtp_inbox.messages for r in rcpts]
    assert "x@evil.test" not in all_rcpts
    assert "spy@evil.test" not in all_rcpts
    (msg,) = smtp_inbox.to("alice@example.test")
    assert msg["Bcc"] is None
    assert msg["Subject"] == f"[{incident.number}] Printer Bcc: x@evil.test"


def test_smtp_down_is_retried_then_sent_once(use_smtp, start_smtp, requester, agent, run_tasks):
    # Nothing listens on the port yet: connection refused.
    incident = make_incident(by=agent, requester=requester, title="Laptop will not boot")

    run_tasks()

    delivery = Delivery.objects.get(ticket=incident, recipient=requester)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 1
    assert "ConnectionRefused" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now()

    inbox = start_smtp()
    run_tasks()  # the retry is not due yet
    assert inbox.messages == []

    with time_machine.travel(timezone.now() + timedelta(minutes=5), tick=True):
        run_tasks()
        run_tasks()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.attempts == 2
    assert len(inbox.to("alice@example.test")) == 1


def test_gives_up_after_max_attempts_with_last_error(
    settings, use_smtp, requester, agent, run_tasks
):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    incident = make_incident(by=agent, requester=requester)
    run_tasks()
    with time_machine.travel(timezone.now() + timedelta(hours=1), tick=True):
        run_tasks()
    with time_machine.travel(timezone.now() + timedelta(days=2), tick=True):
        run_tasks()

    delivery = Delivery.objects.get(ticket=incident, recipient=requester)
    assert delivery.status == DeliveryStatus.DEAD
    assert delivery.attempts == 2
    assert "ConnectionRefused" in delivery.last_error


def test_public_comment_arrives_without_work_notes(smtp_inbox, requester, agent, run_tasks):
    incident = make_incident(by=requester, title="Outlook crashes")
    add_journal_entry(incident, by=agent, kind="work_note", body="SECRET-INTERNAL-DETAIL")
    add_journal_entry(incident, by=agent, kind="comment", body="Please restart Outlook.")
    services.start(incident, by=agent)
    services.resolve(incident, by=agent, code="solved", notes="Cleared the Outlook cache.")

    run_tasks()

    mails = smtp_inbox.to("alice@example.test")
    subjects = sorted(m["Subject"] for m in mails)
    assert subjects == sorted(
        [
            f"[{incident.number}] Outlook crashes",
            f"[{incident.number}] New comment: Outlook crashes",
            f"[{incident.number}] Resolved: Outlook crashes",
        ]
    )
    for msg in mails:
        assert "SECRET-INTERNAL-DETAIL" not in msg.get_content()
    resolved = next(m for m in mails if "Resolved" in m["Subject"])
    assert "Cleared the Outlook cache." in resolved.get_content()
