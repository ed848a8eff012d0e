"""Who may do what to a ticket of any kind: the one policy, over HTTP."""

from __future__ import annotations

import pytest

from mainspring.core.models import Ticket
from tests.api.helpers import assert_error

pytestmark = pytest.mark.django_db


def _new(api_for, agent, case, **fields) -> str:
    response = api_for(agent).post(case.api, {"title": f"A {case.kind}", **fields}, format="json")
    assert response.status_code == 201, response.content[:500]
    return response.json()["number"]


@pytest.mark.parametrize("who", ["requester", "other_requester", "anonymous"])
def test_non_agents_cannot_move_a_ticket(api_for, agent, requester, other_requester, case, who):
    from rest_framework.test import APIClient

    number = _new(api_for, agent, case, **case.on_behalf_of(requester))
    client = {
        "requester": lambda: api_for(requester),
        "other_requester": lambda: api_for(other_requester),
        "anonymous": APIClient,
    }[who]()
    first, body = case.to_resolved[0]
    response = client.post(f"{case.api}{number}/{first.replace('_', '-')}/", body, format="json")
    assert response.status_code in {401, 403, 404}
    if who == "other_requester":
        assert_error(response, 404)  # not theirs to see: indistinguishable from missing
    patch = client.patch(f"{case.api}{number}/", {"title": "mine now"}, format="json")
    assert patch.status_code in {400, 401, 403, 404}
    assert Ticket.objects.get(number=number).title == f"A {case.kind}"


def test_lists_show_requesters_only_their_own(api_for, agent, requester, other_requester, case):
    mine = _new(api_for, agent, case, **case.on_behalf_of(requester))
    _new(api_for, agent, case, **case.on_behalf_of(other_requester))
    listed = api_for(requester).get(case.api).json()["results"]
    assert [t["number"] for t in listed] == ([mine] if case.has_requester else [])
    assert len(api_for(agent).get(case.api).json()["results"]) == 2


def test_an_agent_assigns_within_a_group(api_for, agent, other_agent, service_desk, case):
    number = _new(api_for, agent, case)
    response = api_for(agent).post(
        f"{case.api}{number}/assign/",
        {"assignment_group": service_desk.pk, "assignee": other_agent.username},
        format="json",
    )
    assert response.status_code == 200, response.content[:500]
    assert response.json()["assignee"] == other_agent.username
