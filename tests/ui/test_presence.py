"""Who else has an incident open, typing, and "updated by" (UX 10 and 14)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from mainspring.core import services as core
from mainspring.core.models import Presence
from mainspring.incidents import services
from tests.factories import make_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(agent, requester, service_desk):
    return make_incident(by=agent, requester=requester, assignment_group=service_desk)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def report(client, incident, **data):
    data.setdefault("version", incident.version)
    return client.post(f"/incidents/{incident.number}/presence/", data)


def test_agents_see_each_other_and_who_is_typing(incident, agent, other_agent):
    mine, theirs = client_for(agent), client_for(other_agent)
    assert report(mine, incident).status_code == 204  # nobody else here: nothing to show
    r = report(theirs, incident, typing="on")
    assert r.status_code == 200
    assert "Also viewing: <strong>Agent</strong>" in r.content.decode()
    r = report(mine, incident)
    assert f"<strong>{other_agent.name}</strong> (typing…)" in r.content.decode()
    shown = r.content.decode().split('name="shown" value="')[1].split('"')[0]
    assert report(mine, incident, shown=shown).status_code == 204  # unchanged: no swap
    assert Presence.objects.filter(ticket=incident).count() == 2


def test_someone_who_left_drops_out_and_old_rows_are_removed(incident, agent, other_agent):
    with time_machine.travel(timezone.now() - timedelta(minutes=5)):
        report(client_for(other_agent), incident)
    assert report(client_for(agent), incident).status_code == 204
    assert core.forget_stale_presence(older_than=timedelta(minutes=1)) == 1
    assert list(Presence.objects.values_list("user_id", flat=True)) == [agent.pk]


def test_a_change_by_someone_else_shows_updated_by(incident, agent, other_agent):
    mine = client_for(agent)
    page_version = incident.version
    services.update_incident(incident, by=other_agent, title="VPN down for everyone")
    r = report(mine, incident, version=page_version)
    html = r.content.decode()
    assert r.status_code == 200
    assert f"Updated by {other_agent.name}" in html and "Reload to see it" in html
    assert f'name="version" value="{page_version}"' in html  # keeps asking until reloaded
    # My own change is no news to me.
    services.update_incident(incident, by=agent, urgency="high")
    assert report(mine, incident, version=page_version).status_code == 204


def test_requesters_never_see_presence(incident, requester, agent):
    report(client_for(agent), incident)
    r = report(client_for(requester), incident)
    assert r.status_code == 404
    assert client_for(requester).get(f"/portal/tickets/{incident.number}/").status_code == 200
    assert (
        "presence"
        not in client_for(requester).get(f"/portal/tickets/{incident.number}/").content.decode()
    )


def test_bad_values_are_ignored_not_an_error(incident, agent):
    r = client_for(agent).post(
        f"/incidents/{incident.number}/presence/",
        {"version": "x", "typing": "maybe", "shown": "y" * 5000},
    )
    assert r.status_code in (200, 204)
    assert client_for(agent).post("/incidents/INC9999999/presence/").status_code == 404
