"""Transitions as POST actions: 409 naming the allowed ones, If-Match, ETag, bodies."""

from __future__ import annotations

import pytest

from mainspring.incidents import services
from mainspring.incidents.models import Incident

from ..factories import make_incident
from .helpers import assert_error, url


@pytest.fixture
def incident(requester):
    return make_incident(by=requester)


def test_full_lifecycle_through_the_api(api_for, agent, requester, incident):
    client = api_for(agent)
    r = client.post(url(incident.number, "start"))
    assert r.status_code == 200 and r.json()["state"] == "in_progress"
    assert r.json()["assignee"] == "agent"
    assert r["ETag"] == f'"{r.json()["version"]}"'
    r = client.post(url(incident.number, "hold"), {"hold_reason": "awaiting_caller"}, format="json")
    assert r.json()["state"] == "on_hold" and r.json()["hold_reason"] == "awaiting_caller"
    r = client.post(url(incident.number, "resume"))
    assert r.json()["state"] == "in_progress" and r.json()["hold_reason"] == ""
    r = client.post(
        url(incident.number, "resolve"),
        {"resolution_code": "solved", "resolution_notes": "Rebooted"},
        format="json",
    )
    assert r.status_code == 200
    body = r.json()
    assert body["state"] == "resolved" and body["resolution_code"] == "solved"
    assert body["resolved_at"] is not None
    mine = api_for(requester)
    r = mine.post(url(incident.number, "reopen"), {"reason": "Still broken"}, format="json")
    assert r.json()["state"] == "in_progress" and r.json()["resolution_code"] is None
    client.post(
        url(incident.number, "resolve"),
        {"resolution_code": "workaround", "resolution_notes": "Use the web"},
        format="json",
    )
    r = mine.post(url(incident.number, "close"))
    assert r.status_code == 200 and r.json()["state"] == "closed"
    assert r.json()["closed_at"] is not None


def test_illegal_transition_is_409_with_allowed(api_for, agent, incident):
    response = api_for(agent).post(url(incident.number, "resume"))
    error = assert_error(response, 409, "invalid_transition")
    assert error["state"] == "new"
    assert set(error["allowed"]) == {"start", "hold", "resolve", "cancel"}
    incident.refresh_from_db()
    assert incident.state == "new"


def test_resolve_needs_code_and_notes(api_for, agent, incident):
    response = api_for(agent).post(url(incident.number, "resolve"), {}, format="json")
    error = assert_error(response, 400, "invalid")
    assert {"resolution_code", "resolution_notes"} <= set(error["fields"])
    response = api_for(agent).post(
        url(incident.number, "resolve"),
        {"resolution_code": "nonsense", "resolution_notes": "x"},
        format="json",
    )
    assert "resolution_code" in assert_error(response, 400)["fields"]
    incident.refresh_from_db()
    assert incident.state == "new"


def test_hold_reason_is_validated(api_for, agent, incident):
    response = api_for(agent).post(
        url(incident.number, "hold"), {"hold_reason": "lunch"}, format="json"
    )
    assert "hold_reason" in assert_error(response, 400)["fields"]


def test_unknown_body_fields_on_an_action_are_400(api_for, agent, incident):
    response = api_for(agent).post(
        url(incident.number, "start"), {"state": "closed"}, format="json"
    )
    assert "state" in assert_error(response, 400)["fields"]


def test_transition_honours_if_match(api_for, agent, incident):
    client = api_for(agent)
    stale = f'"{incident.version}"'
    client.patch(url(incident.number), {"title": "changed"}, format="json")
    response = client.post(url(incident.number, "start"), HTTP_IF_MATCH=stale)
    assert_error(response, 412, "stale_version")
    incident.refresh_from_db()
    assert incident.state == "new"
    fresh = client.get(url(incident.number))["ETag"]
    assert client.post(url(incident.number, "start"), HTTP_IF_MATCH=fresh).status_code == 200


def test_assign_and_reassign(api_for, agent, other_agent, manager, service_desk, incident):
    r = api_for(agent).post(
        url(incident.number, "assign"),
        {"assignment_group": service_desk.pk, "assignee": "agent2"},
        format="json",
    )
    assert r.status_code == 200, r.json()
    assert r.json()["assignee"] == "agent2"
    # Taking it off a colleague is the manager's call.
    r = api_for(agent).post(url(incident.number, "assign"), {"assignee": "agent"}, format="json")
    assert_error(r, 403, "forbidden")
    r = api_for(manager).post(url(incident.number, "assign"), {"assignee": "agent"}, format="json")
    assert r.status_code == 200 and r.json()["assignee"] == "agent"
    assert r.json()["reassignment_count"] == 1


def test_assign_validates(api_for, agent, requester, incident):
    client = api_for(agent)
    assert (
        "assignee"
        in assert_error(client.post(url(incident.number, "assign"), {}, format="json"), 400)[
            "fields"
        ]
    )
    assert (
        "assignment_group"
        in assert_error(
            client.post(url(incident.number, "assign"), {"assignment_group": 99999}, format="json"),
            400,
        )["fields"]
    )
    # A requester cannot be assigned work.
    assert (
        "assignee"
        in assert_error(
            client.post(url(incident.number, "assign"), {"assignee": "alice"}, format="json"), 400
        )["fields"]
    )


def test_resolving_a_parent_resolves_children(api_for, agent, requester):
    parent = make_incident(by=agent, requester=requester, title="Parent")
    child = make_incident(by=agent, requester=requester, title="Child", parent=parent)
    r = api_for(agent).post(
        url(parent.number, "resolve"),
        {"resolution_code": "solved", "resolution_notes": "Fixed"},
        format="json",
    )
    assert r.status_code == 200
    assert Incident.objects.get(pk=child.pk).state == "resolved"


def test_cancel_with_reason(api_for, agent, incident):
    r = api_for(agent).post(
        url(incident.number, "cancel"), {"reason": "Duplicate call"}, format="json"
    )
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert incident.journal.filter(kind="work_note", body="Duplicate call").exists()


def test_services_and_api_agree_on_closed_tickets(api_for, agent, incident):
    services.cancel(incident, by=agent)
    r = api_for(agent).patch(url(incident.number), {"title": "x"}, format="json")
    assert "state" in assert_error(r, 400)["fields"]
