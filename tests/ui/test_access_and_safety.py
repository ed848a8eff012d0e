"""Agents only; hostile text comes back inert; jump by number."""

from __future__ import annotations

import pytest

from mainspring.core import services as core
from tests.factories import make_incident

from .conftest import HX

pytestmark = pytest.mark.django_db

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def hostile(agent, requester):
    incident = make_incident(
        by=agent,
        requester=requester,
        title=f"Broken {IMG}",
        description=f"Look {SCRIPT} {IMG} [x](javascript:alert(1))",
    )
    core.add_journal_entry(incident, by=agent, kind="comment", body=f"Hi {IMG} {SCRIPT}")
    core.add_journal_entry(incident, by=agent, kind="work_note", body=f"<b>{SCRIPT}</b>")
    return incident


def assert_inert(html: str) -> None:
    assert "<img src=x" not in html
    assert "<script>alert" not in html
    assert "<b><script>" not in html
    assert 'href="javascript' not in html


def test_xss_in_detail_is_escaped(agent_client, hostile):
    html = agent_client.get(f"/incidents/{hostile.number}/").content.decode()
    assert_inert(html)
    assert "Broken &lt;img src=x onerror=alert(1)&gt;" in html  # shown, as text


def test_xss_in_queue_and_partials_is_escaped(agent_client, hostile):
    assert_inert(agent_client.get("/incidents/").content.decode())
    assert_inert(agent_client.get("/incidents/?q=broken", **HX).content.decode())
    response = agent_client.post(
        f"/incidents/{hostile.number}/comment/", {"kind": "work_note", "body": SCRIPT}, **HX
    )
    assert_inert(response.content.decode())


def test_xss_in_create_errors_is_escaped(agent_client):
    response = agent_client.post(
        "/incidents/new/", {"requester": IMG, "title": SCRIPT, "impact": "nope", "urgency": "low"}
    )
    assert response.status_code == 400
    assert_inert(response.content.decode())


def test_requester_is_sent_to_the_portal_from_the_queue(requester_client):
    response = requester_client.get("/incidents/")
    assert response.status_code == 302 and response["Location"] == "/portal/"


@pytest.mark.parametrize("path", ["new/", "jump/?q=1", "{n}/", "priority/", "subcategories/"])
def test_requester_gets_404_on_agent_pages(requester_client, requester, agent, path):
    incident = make_incident(by=agent, requester=requester)  # even their own
    response = requester_client.get(f"/incidents/{path.format(n=incident.number)}")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "action", ["comment/", "do/start/", "edit/", "assign/", "watch/", "link/", "attach/"]
)
def test_requester_cannot_post_agent_actions(requester_client, requester, agent, action):
    incident = make_incident(by=agent, requester=requester)
    response = requester_client.post(
        f"/incidents/{incident.number}/{action}",
        {"kind": "comment", "body": "x", "action": "add_me"},
    )
    assert response.status_code == 404
    assert incident.journal.count() == 0 and not incident.watchers.exists()


def test_anonymous_is_sent_to_login(client):
    response = client.get("/incidents/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_get_on_an_action_is_refused(agent_client, agent):
    incident = make_incident(by=agent)
    assert agent_client.get(f"/incidents/{incident.number}/do/start/").status_code == 405
    incident.refresh_from_db()
    assert incident.state == "new"


@pytest.mark.parametrize(
    "variant",
    ["{number}", "{lower}", "#{digits}", "{digits}", "INC000{digits}", " {number} ", "#{lower}"],
)
def test_jump_by_number_variants(agent_client, agent, variant):
    incident = make_incident(by=agent)
    digits = int(incident.number[3:])
    q = variant.format(number=incident.number, lower=incident.number.lower(), digits=digits)
    response = agent_client.get("/incidents/jump/", {"q": q})
    assert response.status_code == 302
    assert response["Location"] == f"/incidents/{incident.number}/"


def test_jump_to_unknown_number_says_so(agent_client, agent):
    response = agent_client.get("/incidents/jump/", {"q": "INC9999999"}, follow=True)
    assert response.status_code == 200
    assert "There is no incident INC9999999." in response.content.decode()


def test_jump_with_text_searches_the_queue(agent_client, agent):
    match = make_incident(by=agent, title="Printer on fire")
    make_incident(by=agent, title="Something else")
    response = agent_client.get("/incidents/jump/", {"q": "printer"})
    assert response.status_code == 302
    assert response["Location"] == "/incidents/?is_open=any&q=printer"
    html = agent_client.get(response["Location"]).content.decode()
    assert match.number in html and "Something else" not in html
