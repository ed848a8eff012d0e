"""Logging an incident in the agent workspace, on a caller's behalf."""

from __future__ import annotations

import re

import pytest

from mainspring.incidents.models import Incident
from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def categories():
    network = CategoryFactory(name="Network")
    hardware = CategoryFactory(name="Hardware")
    return {
        "network": network,
        "hardware": hardware,
        "vpn": CategoryFactory(name="VPN", parent=network),
        "laptop": CategoryFactory(name="Laptop", parent=hardware),
    }


def test_form_has_labelled_fields(agent_client, categories):
    html = agent_client.get("/incidents/new/").content.decode()
    for field in (
        "requester",
        "title",
        "description",
        "category",
        "subcategory",
        "impact",
        "urgency",
        "channel",
        "assignment_group",
        "assignee",
        "major_incident",
    ):
        assert f'for="id_{field}"' in html and f'id="id_{field}"' in html
    # Without JavaScript, every subcategory is offered, grouped by its category.
    assert '<optgroup label="Network">' in html
    assert 'hx-get="/incidents/subcategories/"' in html
    assert 'id="priority-preview"' in html and "P3 Moderate" in html


def test_create_on_behalf_of_a_caller(agent_client, agent, requester, service_desk, categories):
    response = agent_client.post(
        "/incidents/new/",
        {
            "requester": "ALICE",
            "title": "Cannot print",
            "description": "Paper jam",
            "category": categories["hardware"].pk,
            "subcategory": categories["laptop"].pk,
            "impact": "high",
            "urgency": "high",
            "channel": "phone",
            "assignment_group": service_desk.pk,
            "assignee": agent.pk,
            "major_incident": "on",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/incidents/{incident.number}/"
    assert incident.requester == requester and incident.opened_by == agent
    assert incident.channel == "phone" and incident.priority == 1 and incident.major_incident
    assert incident.subcategory == categories["laptop"] and incident.assignee == agent


def test_requester_may_be_given_by_email_or_left_empty(agent_client, agent, requester):
    agent_client.post(
        "/incidents/new/",
        {
            "requester": "alice@example.test",
            "title": "A",
            "impact": "low",
            "urgency": "low",
            "channel": "email",
        },
    )
    agent_client.post(
        "/incidents/new/",
        {"requester": "", "title": "B", "impact": "low", "urgency": "low", "channel": "ui"},
    )
    assert dict(Incident.objects.values_list("title", "requester__username")) == {
        "A": "alice",
        "B": "agent",
    }


def test_field_errors_keep_input_and_are_summarised(agent_client, categories):
    response = agent_client.post(
        "/incidents/new/",
        {
            "requester": "nobody",
            "title": "",
            "description": "My **long** story",
            "category": categories["network"].pk,
            "subcategory": categories["laptop"].pk,
            "impact": "high",
            "urgency": "extreme",
            "channel": "phone",
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert not Incident.objects.exists()
    summary = html.split('id="form-errors"')[1].split("</div>")[0]
    for field in ("requester", "title", "subcategory", "urgency"):
        assert f'href="#id_{field}"' in summary
    assert re.search(r'id="id_title"[^>]*aria-invalid="true"', html) or re.search(
        r'aria-invalid="true"[^>]*id="id_title"', html
    )
    assert 'aria-describedby="id_title_error"' in html and 'id="id_title_error"' in html
    assert 'value="nobody"' in html and "My **long** story" in html
    assert re.search(r'<option value="high" selected>High</option>', html)
    # The chosen category narrows the subcategory list.
    assert ">VPN</option>" in html and ">Laptop</option>" not in html


def test_service_rule_errors_land_on_the_field(agent_client, requester, network_team, agent):
    response = agent_client.post(
        "/incidents/new/",
        {
            "title": "X",
            "impact": "low",
            "urgency": "low",
            "channel": "phone",
            "assignment_group": network_team.pk,
            "assignee": agent.pk,
        },
    )
    html = response.content.decode()
    assert response.status_code == 400 and "is not a member of Network" in html
    assert 'href="#id_assignee"' in html and not Incident.objects.exists()


def test_subcategory_options_follow_the_category(agent_client, categories):
    html = agent_client.get(f"/incidents/subcategories/?category={categories['network'].pk}")
    html = html.content.decode()
    assert '<option value="">(none)</option>' in html
    assert ">VPN</option>" in html and "Laptop" not in html and "optgroup" not in html
    grouped = agent_client.get("/incidents/subcategories/?category=abc").content.decode()
    assert '<optgroup label="Hardware">' in grouped and ">VPN</option>" in grouped


def test_priority_preview(agent_client):
    assert agent_client.get("/incidents/priority/?impact=high&urgency=medium").content == (
        b"P2 High"
    )
    assert agent_client.get("/incidents/priority/?impact=x&urgency=y").status_code == 200
