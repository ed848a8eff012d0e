"""Create, read and update incidents over the API; ETags, If-Match and Idempotency-Key."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from mainspring.core.models import IdempotencyRecord
from mainspring.incidents.models import Incident

from ..factories import CategoryFactory, make_incident
from .helpers import assert_error, url

FIELDS = {
    "number",
    "title",
    "description",
    "state",
    "impact",
    "urgency",
    "priority",
    "category",
    "subcategory",
    "requester",
    "assignment_group",
    "assignee",
    "problem",
    "channel",
    "major_incident",
    "hold_reason",
    "resolution_code",
    "resolution_notes",
    "reassignment_count",
    "parent",
    "version",
    "web_url",
    "created_at",
    "updated_at",
    "responded_at",
    "resolved_at",
    "closed_at",
    "opened_by",
    "sla_breach_at",
}


def test_agent_creates_for_a_requester_with_every_field(api_for, agent, requester, service_desk):
    category = CategoryFactory(name="Network")
    sub = CategoryFactory(name="VPN", parent=category)
    response = api_for(agent).post(
        url(),
        {
            "title": "VPN down",
            "description": "All users",
            "impact": "high",
            "urgency": "high",
            "requester": "alice",
            "assignment_group": service_desk.pk,
            "assignee": "agent",
            "category": category.pk,
            "subcategory": sub.pk,
            "major_incident": True,
            "channel": "phone",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == FIELDS
    assert body["number"].startswith("INC")
    assert body["state"] == "new"
    assert body["priority"] == 1
    assert body["impact"] == "high"
    assert body["requester"] == "alice"
    assert body["opened_by"] == "agent"
    assert body["assignee"] == "agent"
    assert body["assignment_group"] == service_desk.pk
    assert body["category"] == category.pk and body["subcategory"] == sub.pk
    assert body["channel"] == "phone"
    assert body["web_url"] == f"http://testserver/tickets/{body['number']}/"
    assert response["ETag"] == f'"{body["version"]}"'
    assert response["Location"].endswith(f"/api/v1/incidents/{body['number']}/")
    incident = Incident.objects.get(number=body["number"])
    assert incident.requester == requester


def test_requester_creates_own_incident_with_defaults(api_for, requester):
    response = api_for(requester).post(url(), {"title": "Printer jam"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["requester"] == "alice"
    assert body["priority"] == 5
    assert body["channel"] == "api"
    # Agent-only bookkeeping is not shown to requesters.
    assert "reassignment_count" not in body
    assert "sla_breach_at" not in body
    assert "problem" not in body


@pytest.mark.parametrize(
    "payload",
    [
        {"title": "x", "requester": "bob"},
        {"title": "x", "assignee": "agent"},
        {"title": "x", "impact": "high"},
        {"title": "x", "major_incident": True},
        {"title": "x", "channel": "phone"},
    ],
)
def test_requester_may_not_set_agent_fields(api_for, requester, other_requester, agent, payload):
    response = api_for(requester).post(url(), payload, format="json")
    error = assert_error(response, 400, "invalid")
    bad = next(k for k in payload if k != "title")
    assert bad in error["fields"]
    assert not Incident.objects.exists()


@pytest.mark.parametrize("field", ["priority", "state", "number", "version", "is_staff"])
def test_read_only_or_unknown_fields_are_refused_not_dropped(api_for, agent, field):
    response = api_for(agent).post(url(), {"title": "x", field: 1}, format="json")
    error = assert_error(response, 400, "invalid")
    assert field in error["fields"]
    assert not Incident.objects.exists()


def test_retrieve_has_etag_and_lowercase_is_found(api_for, requester):
    incident = make_incident(by=requester)
    response = api_for(requester).get(url(incident.number.lower()))
    assert response.status_code == 200
    assert response.json()["number"] == incident.number
    assert response["ETag"] == f'"{incident.version}"'


def test_other_requesters_ticket_is_404_like_a_missing_one(api_for, requester, other_requester):
    incident = make_incident(by=requester)
    client = api_for(other_requester)
    foreign = client.get(url(incident.number))
    missing = client.get(url("INC9999999"))
    assert_error(foreign, 404, "not_found")
    assert foreign.json() == missing.json()
    assert_error(client.patch(url(incident.number), {"title": "x"}, format="json"), 404)
    assert_error(
        client.post(
            url(incident.number, "journal"), {"kind": "comment", "body": "hi"}, format="json"
        ),
        404,
    )


def test_watcher_requester_sees_the_ticket(api_for, requester, other_requester, agent):
    from mainspring.core.services import add_watcher

    incident = make_incident(by=requester)
    add_watcher(incident, by=agent, user=other_requester)
    assert api_for(other_requester).get(url(incident.number)).status_code == 200


def test_agent_patches_and_audit_records_the_api_channel(api_for, agent, requester):
    incident = make_incident(by=requester)
    response = api_for(agent).patch(
        url(incident.number), {"impact": "high", "urgency": "high"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["priority"] == 1
    assert response["ETag"] == f'"{incident.version + 1}"'
    assert incident.audit.filter(field="impact", channel="api", new_value="high").exists()


def test_requester_may_not_patch(api_for, requester):
    incident = make_incident(by=requester)
    response = api_for(requester).patch(url(incident.number), {"title": "mine"}, format="json")
    assert_error(response, 403, "forbidden")
    incident.refresh_from_db()
    assert incident.title != "mine"


def test_stale_if_match_is_412_and_nothing_changes(api_for, agent, requester):
    incident = make_incident(by=requester)
    client = api_for(agent)
    etag = client.get(url(incident.number))["ETag"]
    first = client.patch(
        url(incident.number), {"title": "first"}, format="json", HTTP_IF_MATCH=etag
    )
    assert first.status_code == 200
    second = client.patch(
        url(incident.number), {"title": "second"}, format="json", HTTP_IF_MATCH=etag
    )
    error = assert_error(second, 412, "stale_version")
    assert error["current_version"] == first.json()["version"]
    incident.refresh_from_db()
    assert incident.title == "first"


def test_garbage_if_match_is_400(api_for, agent, requester):
    incident = make_incident(by=requester)
    response = api_for(agent).patch(
        url(incident.number), {"title": "x"}, format="json", HTTP_IF_MATCH="banana"
    )
    assert_error(response, 400, "invalid")


def test_put_and_delete_are_405(api_for, agent, requester):
    incident = make_incident(by=requester)
    client = api_for(agent)
    assert_error(
        client.put(url(incident.number), {"title": "x"}, format="json"), 405, "method_not_allowed"
    )
    assert_error(client.delete(url(incident.number)), 405, "method_not_allowed")
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_idempotency_key_replays_the_first_answer(api_for, requester):
    client = api_for(requester)
    first = client.post(url(), {"title": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(url(), {"title": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["number"] == first.json()["number"]
    assert again["Idempotent-Replayed"] == "true"
    assert Incident.objects.count() == 1
    other = client.post(url(), {"title": "Different"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert_error(other, 409, "idempotency_conflict")
    assert Incident.objects.count() == 1


def test_idempotency_keys_are_per_user(api_for, requester, other_requester):
    api_for(requester).post(url(), {"title": "A"}, format="json", HTTP_IDEMPOTENCY_KEY="same")
    response = api_for(other_requester).post(
        url(), {"title": "A"}, format="json", HTTP_IDEMPOTENCY_KEY="same"
    )
    assert response.status_code == 201
    assert response.json()["requester"] == "bob"
    assert Incident.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_with_one_key_make_one_incident(requester, api_for):
    clients = [api_for(requester) for _ in range(4)]
    barrier = threading.Barrier(len(clients))
    results: list = [None] * len(clients)

    def post(i: int) -> None:
        try:
            barrier.wait()
            response = clients[i].post(
                url(), {"title": "Race"}, format="json", HTTP_IDEMPOTENCY_KEY="race-key"
            )
            results[i] = (response.status_code, response.json().get("number"))
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is not None and r[0] == 201 for r in results), results
    assert len({r[1] for r in results}) == 1
    assert Incident.objects.filter(title="Race").count() == 1
    assert IdempotencyRecord.objects.filter(key="race-key").count() == 1
