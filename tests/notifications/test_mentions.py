"""@mentions: parsing, the mail to the mentioned agent, the public-comment warning and the
suggestions endpoint (UX 17)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from mainspring.core import services as core
from mainspring.core.mentions import mentioned_usernames
from mainspring.core.models import JournalEntry
from mainspring.identity.models import Role
from mainspring.notifications.models import Delivery
from tests.factories import UserFactory, make_incident

pytestmark = pytest.mark.django_db


def test_mentions_are_parsed_once_each_and_not_from_addresses():
    body = "@bob, can you and @alice. look? Mail ops@example.com or @bob again (@carol)"
    assert mentioned_usernames(body) == ["bob", "alice", "carol"]
    assert mentioned_usernames("no one here, a@b and @@") == []


def test_a_mentioned_agent_is_mailed_and_nobody_else(agent, other_agent, requester, run_tasks):
    incident = make_incident(by=requester, title="Disk full")
    gone = UserFactory(username="gone", role=Role.AGENT, is_active=False)
    run_tasks()
    mail.outbox.clear()
    core.add_journal_entry(
        incident,
        by=agent,
        kind="work_note",
        body=(
            f"@{other_agent.username} please check; "
            f"@{requester.username} @{gone.username} @{agent.username}"
        ),
    )
    run_tasks()
    (msg,) = mail.outbox
    assert msg.to[0].endswith(f"<{other_agent.email}>")
    assert msg.subject == f"[{incident.number}] {agent.name} mentioned you: Disk full"
    assert "an internal work note" in msg.body and "please check" in msg.body
    assert Delivery.objects.filter(event="mentioned").count() == 1


def test_a_requester_cannot_mention_agents(agent, requester, run_tasks):
    incident = make_incident(by=requester)
    core.add_journal_entry(incident, by=requester, kind="comment", body=f"@{agent.username} hi")
    run_tasks()
    assert not Delivery.objects.filter(event="mentioned").exists()


def test_a_public_mention_asks_first(agent, other_agent, requester, run_tasks):
    incident = make_incident(by=requester)
    client = Client()
    client.force_login(agent)
    body = {"kind": "comment", "body": f"Looping in @{other_agent.username}."}
    r = client.post(f"/incidents/{incident.number}/comment/", body, HTTP_HX_REQUEST="true")
    html = r.content.decode()
    assert r.status_code == 409
    assert f"You mention {other_agent.name} in a public comment" in html
    assert 'name="confirm_public"' in html and "Looping in @" in html
    assert not JournalEntry.objects.filter(ticket=incident, kind="comment").exists()

    body["confirm_public"] = "on"
    r = client.post(f"/incidents/{incident.number}/comment/", body, HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    assert JournalEntry.objects.filter(ticket=incident, kind="comment").count() == 1
    # A work note with a mention needs no confirmation.
    r = client.post(
        f"/incidents/{incident.number}/comment/",
        {"kind": "work_note", "body": f"@{other_agent.username} FYI"},
        HTTP_HX_REQUEST="true",
    )
    assert r.status_code == 200
    run_tasks()
    assert Delivery.objects.filter(event="mentioned").count() == 2


def test_suggestions_are_agents_only_for_agents_only(agent, other_agent, requester):
    client = Client()
    client.force_login(agent)
    prefix = other_agent.username[:3]
    results = client.get("/incidents/mentions/", {"q": "@" + prefix}).json()["results"]
    assert {"username": other_agent.username, "name": other_agent.name} in results
    assert all(r["username"] != requester.username for r in results)
    assert client.get("/incidents/mentions/", {"q": requester.username}).json() == {"results": []}
    assert client.get("/incidents/mentions/").json() == {"results": []}
    outsider = Client()
    outsider.force_login(requester)
    assert outsider.get("/incidents/mentions/", {"q": "a"}).status_code == 404
