"""The whole journey in a real browser, as two people in two browser sessions.

A requester reports an incident in the portal; an agent finds it in the queue,
comments and resolves it; the requester sees the resolution and confirms it.
"""

from __future__ import annotations

import re

import pytest

from mainspring.identity.models import Role
from mainspring.incidents.models import Incident
from tests.browser_support import axe_violations, login
from tests.factories import PASSWORD, UserFactory, add_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_report_work_resolve_confirm(new_page, service_desk):
    UserFactory(username="alice", role=Role.REQUESTER)
    agent = UserFactory(username="agent", role=Role.AGENT)
    add_member(service_desk, agent)

    # 1. Alice reports an incident in the portal.
    alice = new_page()
    login(alice, "alice", PASSWORD)
    alice.get_by_label("Short description").fill("Laptop cannot join the office Wi-Fi")
    alice.get_by_label("Details").fill("It says *authentication failed* since Monday.")
    alice.get_by_role("button", name="Report incident").click()
    alice.wait_for_load_state()
    incident = Incident.objects.get(title="Laptop cannot join the office Wi-Fi")
    assert incident.channel == "portal" and incident.requester.username == "alice"
    assert incident.number in alice.content()

    # 2. The agent finds it in the queue (unassigned, all open) and opens it.
    desk = new_page()
    login(desk, "agent", PASSWORD)
    desk.goto("/incidents/?is_open=1")
    desk.get_by_role("link", name=incident.number).click()
    desk.wait_for_url(re.compile(rf"/incidents/{incident.number}/$"))
    assert desk.title().startswith(incident.number)

    # 3. A public comment, then an internal work note.
    desk.check("input[name=kind][value=comment]")
    desk.fill("#id_body", "Please forget the network and reconnect; I reset your profile.")
    desk.click("#composer button[type=submit]")
    desk.wait_for_selector("#messages:has-text('Public comment added.')")
    desk.fill("#id_body", "RADIUS showed an expired machine certificate.")
    desk.click("#composer button[type=submit]")
    desk.wait_for_selector("text=RADIUS showed an expired machine certificate.")

    # 4. Resolve with a code and notes.
    desk.click("summary:has-text('Resolve')")
    desk.select_option("#id_resolution_code", "solved")
    desk.fill("#id_resolution_notes", "Renewed the machine certificate.")
    desk.click("#resolve-form button[type=submit]")
    desk.wait_for_selector("#messages:has-text('is now Resolved')")
    incident.refresh_from_db()
    assert incident.state == "resolved" and incident.responded_at is not None

    # 5. Alice sees the resolution and the public comment, never the work note.
    alice.goto(f"/portal/tickets/{incident.number}/")
    page_text = alice.content()
    assert "Renewed the machine certificate." in page_text
    assert "reset your profile" in page_text
    assert "RADIUS" not in page_text
    assert axe_violations(alice) == []

    # 6. She confirms; the incident closes.
    alice.get_by_role("button", name=re.compile("Yes, it is fixed")).click()
    alice.wait_for_load_state()
    incident.refresh_from_db()
    assert incident.state == "closed" and incident.closed_at is not None
    states = list(incident.audit.filter(field="state").values_list("new_value", flat=True))
    assert states == ["new", "resolved", "closed"]
