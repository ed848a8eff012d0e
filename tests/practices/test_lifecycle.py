"""Every practice's lifecycle through the API: legal paths, 409s, phases and audit."""

from __future__ import annotations

import pytest

from mainspring.core import registry
from mainspring.core.models import AuditEntry, Ticket
from mainspring.core.states import Phase
from tests.api.helpers import assert_error

pytestmark = pytest.mark.django_db


def _new(client, case) -> str:
    response = client.post(case.api, {"title": f"A {case.kind} to work"}, format="json")
    assert response.status_code == 201, response.content[:500]
    return response.json()["number"]


def _run(client, case, number, steps):
    for name, body in steps:
        response = client.post(f"{case.api}{number}/{name.replace('_', '-')}/", body, format="json")
        assert response.status_code == 200, (name, response.content[:500])
    return response.json()


def test_the_path_to_resolved_and_closed_sets_phase_columns(api_for, agent, case):
    client = api_for(agent)
    machine = registry.by_kind(case.kind).machine
    number = _new(client, case)
    resolved = _run(client, case, number, case.to_resolved)
    assert machine.state(resolved["state"]).phase == Phase.RESOLVED
    ticket = Ticket.objects.get(number=number)
    assert not ticket.is_open and ticket.resolved_at is not None and ticket.closed_at is None
    closed = _run(client, case, number, case.to_closed)
    assert machine.state(closed["state"]).phase == Phase.CLOSED
    ticket.refresh_from_db()
    assert ticket.closed_at is not None
    states = list(
        AuditEntry.objects.filter(ticket=ticket, field="state").values_list("new_value", flat=True)
    )
    assert states[0] == machine.initial and states[-1] == closed["state"]
    assert len(states) == 1 + len(case.to_resolved) + len(case.to_closed)


def test_an_illegal_transition_is_409_naming_the_allowed_ones(api_for, agent, case):
    client = api_for(agent)
    number = _new(client, case)
    machine = registry.by_kind(case.kind).machine
    response = client.post(f"{case.api}{number}/{case.illegal_first}/", {}, format="json")
    error = assert_error(response, 409)
    assert sorted(error["allowed"]) == sorted(machine.allowed(machine.initial))
    assert Ticket.objects.get(number=number).state == machine.initial


def test_cancel_from_the_initial_state_is_the_cancelled_phase(api_for, agent, case):
    client = api_for(agent)
    number = _new(client, case)
    data = _run(client, case, number, [(case.cancel, {})])
    assert registry.phase_of(case.kind, data["state"]) == Phase.CANCELLED
    # Nothing leaves a cancelled ticket.
    assert registry.by_kind(case.kind).machine.allowed(data["state"]) == []


def test_a_stale_if_match_on_a_transition_is_412(api_for, agent, case):
    client = api_for(agent)
    number = _new(client, case)
    client.patch(f"{case.api}{number}/", {"title": "Moved on"}, format="json")
    response = client.post(
        f"{case.api}{number}/{case.cancel}/", {}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert_error(response, 412)
    assert Ticket.objects.get(number=number).is_open
