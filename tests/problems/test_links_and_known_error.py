"""Problem management's own behaviour: linked incidents, known errors, resolving."""

from __future__ import annotations

import pytest

from mainspring.core.models import AuditEntry, JournalEntry
from mainspring.incidents.models import Incident
from mainspring.knowledge.models import Article
from mainspring.notifications.models import Delivery
from mainspring.problems import services as problems
from mainspring.problems.models import Problem
from tests.api.helpers import assert_error
from tests.factories import make_incident

pytestmark = pytest.mark.django_db
API = "/api/v1/problems/"


@pytest.fixture
def vpn_incidents(agent, other_agent, requester):
    return [
        make_incident(by=agent, requester=requester, title=f"VPN drops {i}", assignee=who)
        for i, who in enumerate([agent, other_agent, other_agent])
    ]


def _problem(api, numbers=()) -> dict:
    response = api.post(
        API, {"title": "VPN concentrator drops sessions", "incidents": list(numbers)}, format="json"
    )
    assert response.status_code == 201, response.content[:500]
    return response.json()


def test_create_from_incidents_links_them_and_audits_both(api_for, agent, vpn_incidents):
    api = api_for(agent)
    numbers = [i.number for i in vpn_incidents[:2]]
    problem = _problem(api, numbers)
    linked = api.get(f"{API}{problem['number']}/incidents/").json()
    assert [i["number"] for i in linked] == numbers
    incident = api.get(f"/api/v1/incidents/{numbers[0]}/").json()
    assert incident["problem"] == problem["number"]
    on_incident = AuditEntry.objects.get(ticket__number=numbers[0], field="caused_by")
    assert on_incident.new_value == problem["number"] and on_incident.channel == "api"
    on_problem = AuditEntry.objects.filter(ticket__number=problem["number"], field="incident")
    assert sorted(a.new_value for a in on_problem) == sorted(numbers)


def test_link_and_unlink_by_number(api_for, agent, vpn_incidents):
    api = api_for(agent)
    number = _problem(api)["number"]
    third = vpn_incidents[2].number
    linked = api.post(f"{API}{number}/incidents/", {"incident": third.lower()}, format="json")
    assert [i["number"] for i in linked.json()] == [third]
    again = api.post(f"{API}{number}/incidents/", {"incident": third}, format="json")
    assert again.status_code == 200  # linking twice is a no-op
    assert AuditEntry.objects.filter(ticket__number=number, field="incident").count() == 1
    gone = api.delete(f"{API}{number}/incidents/{third}/")
    assert gone.status_code == 200 and gone.json() == []
    assert Incident.objects.get(number=third).caused_by_id is None
    assert_error(api.delete(f"{API}{number}/incidents/{third}/"), 400)
    missing = api.post(f"{API}{number}/incidents/", {"incident": "INC0999999"}, format="json")
    assert "incident" in assert_error(missing, 400)["fields"]


def test_creating_with_an_unknown_incident_writes_nothing(api_for, agent, vpn_incidents):
    response = api_for(agent).post(
        API, {"title": "x", "incidents": [vpn_incidents[0].number, "INC0999999"]}, format="json"
    )
    assert "incidents" in assert_error(response, 400)["fields"]
    assert not Problem.objects.exists()
    assert Incident.objects.filter(caused_by__isnull=False).count() == 0


def test_requesters_never_see_a_problem_or_its_number(api_for, agent, requester, vpn_incidents):
    number = _problem(api_for(agent), [vpn_incidents[0].number])["number"]
    mine = api_for(requester).get(f"/api/v1/incidents/{vpn_incidents[0].number}/").json()
    assert "problem" not in mine
    assert_error(api_for(requester).get(f"{API}{number}/"), 404)
    assert api_for(requester).get(API).json()["results"] == []


def test_known_error_posts_one_note_per_open_incident_and_one_article(
    api_for, agent, vpn_incidents
):
    api = api_for(agent)
    numbers = [i.number for i in vpn_incidents]
    problems_number = _problem(api, numbers)["number"]
    # A closed incident is history: it gets no work note.
    closed = vpn_incidents[2]
    from mainspring.incidents import services as incidents

    incidents.cancel(closed, by=agent)
    body = {"workaround": "Reconnect with the TCP profile."}
    first = api.post(f"{API}{problems_number}/known-error/", body, format="json")
    assert first.status_code == 200, first.content[:500]
    data = first.json()
    assert data["known_error"] is True and data["workaround"] == body["workaround"]
    article = Article.objects.get(number=data["known_error_article"])
    assert article.kind == "known_error" and article.state == "in_review"
    assert "Reconnect with the TCP profile." in article.body
    # A retry (same workaround) changes nothing.
    retry = api.post(f"{API}{problems_number}/known-error/", body, format="json")
    assert retry.status_code == 200 and retry.json()["version"] == data["version"]
    notes = JournalEntry.objects.filter(kind="work_note", body__contains="TCP profile")
    assert sorted(n.ticket.number for n in notes) == sorted(numbers[:2])
    assert Article.objects.filter(kind="known_error").count() == 1


def test_known_error_needs_a_workaround(api_for, agent):
    number = _problem(api_for(agent))["number"]
    response = api_for(agent).post(f"{API}{number}/known-error/", {"workaround": ""}, format="json")
    assert "workaround" in assert_error(response, 400)["fields"]
    assert not Problem.objects.get(number=number).known_error


def _to_fix(api, number):
    for name in ("assess", "analyse", "fix"):
        assert api.post(f"{API}{number}/{name}/", {}, format="json").status_code == 200


def test_resolving_with_resolve_incidents_resolves_the_open_linked_ones(
    api_for, agent, vpn_incidents
):
    api = api_for(agent)
    number = _problem(api, [i.number for i in vpn_incidents])["number"]
    _to_fix(api, number)
    response = api.post(
        f"{API}{number}/resolve/",
        {
            "resolution_code": "fix_applied",
            "resolution_notes": "Firmware 9.2 fixes the session table.",
            "resolve_incidents": True,
        },
        format="json",
    )
    assert response.status_code == 200, response.content[:500]
    for incident in Incident.objects.filter(caused_by__number=number):
        assert incident.state == "resolved"
        assert incident.resolution_code.code == "solved"
        assert "Firmware 9.2" in incident.resolution_notes
        assert JournalEntry.objects.filter(
            ticket=incident, body__contains=f"problem {number}"
        ).exists()


def test_resolving_without_it_tells_each_assignee(api_for, agent, other_agent, vpn_incidents):
    api = api_for(agent)
    number = _problem(api, [i.number for i in vpn_incidents])["number"]
    _to_fix(api, number)
    response = api.post(
        f"{API}{number}/resolve/",
        {"resolution_code": "risk_accepted", "resolution_notes": "Replacing it next quarter."},
        format="json",
    )
    assert response.status_code == 200
    assert not Incident.objects.filter(caused_by__number=number, state="resolved").exists()
    told = Delivery.objects.filter(subject__contains=f"Problem {number} is resolved")
    assert sorted(d.recipient_id for d in told) == sorted(
        [agent.pk, other_agent.pk, other_agent.pk]
    )
    assert {d.ticket.number for d in told} == {i.number for i in vpn_incidents}


def test_resolve_needs_a_known_code_and_notes(api_for, agent):
    api = api_for(agent)
    number = _problem(api)["number"]
    _to_fix(api, number)
    response = api.post(
        f"{API}{number}/resolve/", {"resolution_code": "solved", "resolution_notes": ""}, "json"
    )
    error = assert_error(response, 400)
    assert {"resolution_code", "resolution_notes"} <= set(error["fields"])


def test_services_refuse_requesters(requester):
    from mainspring.identity.policy import Forbidden

    with pytest.raises(Forbidden):
        problems.create(by=requester, title="Mine")
