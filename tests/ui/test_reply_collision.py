"""A reply posted after someone else wrote on the incident is held back once (UX 11)."""

from __future__ import annotations

import re

import pytest

from mainspring.core import services as core
from mainspring.core.models import JournalEntry
from tests.factories import make_incident

from .conftest import HX

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(agent, requester, service_desk):
    return make_incident(by=agent, requester=requester, assignment_group=service_desk)


def seen_value(html: str) -> str:
    match = re.search(r'<input type="hidden" name="seen" value="(\d+)"', html)
    assert match, "the composer carries the newest entry the agent saw"
    return match.group(1)


def test_reply_after_newer_activity_is_held_back_once_with_the_text_kept(
    agent_client, incident, requester
):
    page = agent_client.get(f"/incidents/{incident.number}/").content.decode()
    seen = seen_value(page)
    core.add_journal_entry(incident, by=requester, kind="comment", body="It works again!")

    body = {"kind": "comment", "body": "Have you tried rebooting?", "seen": seen}
    r = agent_client.post(f"/incidents/{incident.number}/comment/", body, **HX)
    assert r.status_code == 409
    html = r.content.decode()
    assert "New activity while you were writing, by Alice" in html
    assert "Have you tried rebooting?" in html  # the draft is kept
    assert "It works again!" in html  # the timeline shows what arrived
    assert 'value="comment"' in html and "checked" in html
    assert not JournalEntry.objects.filter(body="Have you tried rebooting?").exists()

    body["seen"] = seen_value(html)  # the agent has now seen it: posting again sends it
    r = agent_client.post(f"/incidents/{incident.number}/comment/", body, **HX)
    assert r.status_code == 200
    assert JournalEntry.objects.filter(body="Have you tried rebooting?").count() == 1


def test_own_entries_and_old_pages_do_not_hold_a_reply_back(agent_client, agent, incident):
    seen = seen_value(agent_client.get(f"/incidents/{incident.number}/").content.decode())
    core.add_journal_entry(incident, by=agent, kind="work_note", body="Checked the logs")
    r = agent_client.post(
        f"/incidents/{incident.number}/comment/",
        {"kind": "work_note", "body": "Second note", "seen": seen},
        **HX,
    )
    assert r.status_code == 200
    # A form without "seen" (an older page, a script) is not checked.
    r = agent_client.post(
        f"/incidents/{incident.number}/comment/", {"kind": "work_note", "body": "Third"}, **HX
    )
    assert r.status_code == 200
    assert JournalEntry.objects.filter(ticket=incident, author=agent).count() == 3


def test_reply_without_javascript_is_held_back_too(agent_client, incident, other_agent):
    seen = seen_value(agent_client.get(f"/incidents/{incident.number}/").content.decode())
    core.add_journal_entry(incident, by=other_agent, kind="work_note", body="I'm on it")
    r = agent_client.post(
        f"/incidents/{incident.number}/comment/",
        {"kind": "work_note", "body": "Me too", "seen": seen},
    )
    assert r.status_code == 409
    assert "Me too" in r.content.decode() and other_agent.name in r.content.decode()
