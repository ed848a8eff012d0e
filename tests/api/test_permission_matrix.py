"""The API permission matrix: role x action x own/another's ticket → status code.

For requesters "own" is a ticket they reported and "another's" one someone else
reported (always 404). For staff "own" is a ticket assigned to them and "another's" one
assigned to a colleague in the Service Desk group, which only the group's manager or an
admin may take away (reassign).
"""

from __future__ import annotations

import pytest

from mainspring.incidents import services
from mainspring.incidents.models import Incident

from ..factories import UserFactory, add_member, make_incident
from .helpers import url

ROLES = ["requester", "other_requester", "agent", "manager", "admin"]
ACTIONS = [
    "view",
    "update",
    "comment",
    "work_note",
    "audit",
    "start",
    "hold",
    "resume",
    "resolve",
    "cancel",
    "reopen",
    "close",
    "assign",
    "reassign",
]
NEEDS_STATE = {"resume": "on_hold", "reopen": "resolved", "close": "resolved"}
OK = {"view": 200, "update": 200, "comment": 201, "work_note": 201, "audit": 200}


def expected(role: str, whose: str, action: str) -> int:
    if role in ("requester", "other_requester"):
        if whose == "another's":
            return 404
        if action in ("view", "reopen", "close"):
            return 200
        if action == "comment":
            return 201
        return 403
    if action == "reassign" and whose == "another's" and role == "agent":
        return 403
    return OK.get(action, 200)


def _request(client, action: str, incident: Incident, colleague: str):
    n = incident.number
    if action == "view":
        return client.get(url(n))
    if action == "update":
        return client.patch(url(n), {"title": "Changed"}, format="json")
    if action in ("comment", "work_note"):
        return client.post(url(n, "journal"), {"kind": action, "body": "x"}, format="json")
    if action == "audit":
        return client.get(url(n, "audit"))
    if action == "hold":
        return client.post(url(n, "hold"), {"hold_reason": "awaiting_vendor"}, format="json")
    if action == "resolve":
        return client.post(
            url(n, "resolve"),
            {"resolution_code": "solved", "resolution_notes": "ok"},
            format="json",
        )
    if action in ("assign", "reassign"):
        return client.post(url(n, "assign"), {"assignee": colleague}, format="json")
    return client.post(url(n, action))


@pytest.mark.parametrize("whose", ["own", "another's"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS)
def test_matrix(request, api_for, service_desk, agent, other_agent, admin, role, whose, action):
    user = request.getfixturevalue(role)
    manager = request.getfixturevalue("manager")
    colleague = UserFactory(username="agent3", role="agent")
    add_member(service_desk, colleague)
    is_requester = role in ("requester", "other_requester")
    if is_requester:
        owner = user
        if whose == "another's":
            owner = UserFactory(username="carol")
        incident = make_incident(by=owner)
    else:
        reporter = request.getfixturevalue("requester")
        if action == "assign":
            # Assigning an unassigned ticket is any agent's work.
            incident = make_incident(by=reporter)
        elif whose == "own":
            incident = make_incident(by=admin, requester=reporter, assignee=user)
        else:
            incident = make_incident(
                by=admin, requester=reporter, assignment_group=service_desk, assignee=other_agent
            )
    if action in NEEDS_STATE:
        if NEEDS_STATE[action] == "on_hold":
            services.hold(incident, by=admin, hold_reason="awaiting_caller")
        else:
            services.resolve(incident, by=admin, code="solved", notes="done")
    before = Incident.objects.values().get(pk=incident.pk)
    response = _request(api_for(user), action, incident, colleague.username)
    want = expected(role, whose, action)
    assert response.status_code == want, (role, whose, action, response.content[:300])
    after = Incident.objects.values().get(pk=incident.pk)
    if want >= 400 or action in ("view", "audit"):
        assert after == before, "a refused or read-only request changed the ticket"
    elif action not in ("comment", "work_note"):
        assert after["version"] > before["version"]
    if want >= 400:
        body = response.json()
        assert set(body["error"]) >= {"code", "message", "fields"}
    _ = manager  # exists for every case, so "manager of the group" is always true
