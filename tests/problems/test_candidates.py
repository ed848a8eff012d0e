"""Problem candidates: similar recent incidents without a problem, biggest groups first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from mainspring.incidents.models import Incident
from mainspring.problems import services as problems
from mainspring.problems.candidates import find_candidates
from tests.api.helpers import assert_error
from tests.factories import CategoryFactory, make_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(agent, requester):
    network = CategoryFactory(name="Network")
    hardware = CategoryFactory(name="Hardware")
    software = CategoryFactory(name="Software")

    def log(title, category):
        return make_incident(by=agent, requester=requester, title=title, category=category)

    vpn = [
        log("VPN drops every few minutes", network),
        log("vpn connection dropping", network),
        log("The VPN keeps dropping me", network),
        log("VPN dropped during a call", network),
    ]
    printers = [log(f"Printer jam on floor {n}", hardware) for n in (2, 3, 4)]
    log("Email is slow", software)
    log("Email slow again", software)
    log("VPN drops at home", software)  # another category: not with the network ones
    linked = log("VPN drops after lunch", network)
    problems.create(by=agent, title="VPN concentrator", incidents=[linked])
    old = log("VPN drops since Monday", network)
    Incident.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    return {"vpn": vpn, "printers": printers, "network": network, "hardware": hardware}


def test_groups_of_similar_recent_unlinked_incidents(agent, seeded):
    groups = find_candidates(agent)
    assert [(g.category.name, g.size) for g in groups] == [("Network", 4), ("Hardware", 3)]
    vpn, printers = groups
    assert {i.number for i in vpn.incidents} == {i.number for i in seeded["vpn"]}
    assert set(vpn.words) == {"vpn", "drop"}
    assert {i.number for i in printers.incidents} == {i.number for i in seeded["printers"]}


def test_a_longer_window_and_a_smaller_group_size(agent, seeded):
    sizes = [(g.category.name, g.size) for g in find_candidates(agent, days=60, min_size=2)]
    assert ("Network", 5) in sizes  # the 40-day-old one joins
    assert ("Software", 2) in sizes  # the two slow-email incidents


def test_linking_them_to_a_problem_removes_the_group(agent, seeded):
    problems.create(by=agent, title="Printers jam", incidents=seeded["printers"])
    assert [g.category.name for g in find_candidates(agent)] == ["Network"]


def test_the_api_lists_them_for_agents_only(api_for, agent, requester, seeded):
    response = api_for(agent).get("/api/v1/problem-candidates/")
    assert response.status_code == 200
    first = response.json()["results"][0]
    assert first["size"] == 4 and first["category_name"] == "Network"
    assert {i["number"] for i in first["incidents"]} == {i.number for i in seeded["vpn"]}
    assert_error(api_for(requester).get("/api/v1/problem-candidates/"), 403)
    assert (
        "days"
        in assert_error(api_for(agent).get("/api/v1/problem-candidates/", {"days": "0"}), 400)[
            "fields"
        ]
    )
    assert_error(api_for(agent).get("/api/v1/problem-candidates/", {"nope": "1"}), 400)
