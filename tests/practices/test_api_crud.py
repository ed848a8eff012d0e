"""The API every practice gets from core.api_practice, run for each registered kind."""

from __future__ import annotations

import pytest

from mainspring.core import registry
from mainspring.core.models import AuditEntry, Ticket
from tests.api.helpers import assert_error

pytestmark = pytest.mark.django_db


def _create(client, case, **fields):
    body = {"title": f"{case.kind} created by the per-kind suite", **fields}
    response = client.post(case.api, body, format="json")
    assert response.status_code == 201, response.content[:500]
    return response


def test_agent_creates_reads_and_patches(api_for, agent, requester, case):
    client = api_for(agent)
    created = _create(client, case, **case.on_behalf_of(requester), impact="high", urgency="high")
    data = created.json()
    number = data["number"]
    assert created["Location"].endswith(f"{case.api}{number}/")
    assert created["ETag"] == f'"{data["version"]}"'
    assert data["priority"] == 1
    assert data["requester"] == (requester if case.has_requester else agent).username
    assert Ticket.objects.get(number=number).kind == case.kind
    got = client.get(f"{case.api}{number.lower()}/")
    assert got.status_code == 200 and got.json()["number"] == number
    patched = client.patch(
        f"{case.api}{number}/",
        {"title": "A better title"},
        format="json",
        HTTP_IF_MATCH=got["ETag"],
    )
    assert patched.status_code == 200 and patched.json()["title"] == "A better title"
    audit = AuditEntry.objects.filter(ticket__number=number, field="title").get()
    assert audit.new_value == "A better title" and audit.channel == "api"


def test_stale_if_match_is_412_and_nothing_changes(api_for, agent, case):
    client = api_for(agent)
    number = _create(client, case).json()["number"]
    client.patch(f"{case.api}{number}/", {"title": "First"}, format="json")
    stale = client.patch(
        f"{case.api}{number}/", {"title": "Second"}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert_error(stale, 412)
    assert Ticket.objects.get(number=number).title == "First"


def test_unknown_and_read_only_fields_are_refused(api_for, agent, case):
    client = api_for(agent)
    for field in ("state", "priority", "number", "is_staff"):
        error = assert_error(client.post(case.api, {"title": "x", field: "1"}, format="json"), 400)
        assert field in error["fields"]
    assert not Ticket.objects.filter(kind=case.kind).exists()


def test_requester_may_not_set_agent_fields(api_for, requester, case):
    name, value = case.agent_only_field
    response = api_for(requester).post(case.api, {"title": "x", name: value}, format="json")
    if case.requesters_create:
        assert name in assert_error(response, 400)["fields"]
    else:
        assert_error(response, 403)
        assert_error(api_for(requester).post(case.api, {"title": "x"}, format="json"), 403)
    assert not Ticket.objects.filter(kind=case.kind).exists()


def test_another_requesters_ticket_is_404_like_a_missing_one(
    api_for, agent, requester, other_requester, case
):
    number = _create(api_for(agent), case, **case.on_behalf_of(requester)).json()["number"]
    theirs = api_for(other_requester).get(f"{case.api}{number}/")
    prefix = registry.by_kind(case.kind).prefix
    missing = api_for(other_requester).get(f"{case.api}{prefix}0999999/")
    assert_error(theirs, 404)
    assert theirs.json() == missing.json()


def test_put_and_delete_are_405(api_for, agent, case):
    client = api_for(agent)
    number = _create(client, case).json()["number"]
    assert client.put(f"{case.api}{number}/", {"title": "x"}, format="json").status_code == 405
    assert client.delete(f"{case.api}{number}/").status_code == 405


def test_idempotency_key_replays_the_first_answer(api_for, agent, case):
    client = api_for(agent)
    first = client.post(case.api, {"title": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(case.api, {"title": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert first.json()["number"] == again.json()["number"]
    assert Ticket.objects.filter(kind=case.kind).count() == 1


def test_list_filters_by_state_and_open(api_for, agent, case):
    client = api_for(agent)
    kept = _create(client, case).json()["number"]
    gone = _create(client, case).json()["number"]
    assert client.post(f"{case.api}{gone}/{case.cancel}/", {}, format="json").status_code == 200
    open_numbers = [
        t["number"] for t in client.get(case.api, {"is_open": "true"}).json()["results"]
    ]
    assert open_numbers == [kept]
    closed = client.get(case.api, {"is_open": "false"}).json()["results"]
    assert [t["number"] for t in closed] == [gone]
