"""Canned responses: placeholders filled per ticket, unknown ones left visible (UX 16)."""

from __future__ import annotations

import pytest
from django.test import Client

from mainspring.core.canned import expand
from mainspring.core.models import CannedResponse
from tests.factories import make_incident

pytestmark = pytest.mark.django_db


def test_known_placeholders_are_filled_and_unknown_ones_stay(agent, requester):
    incident = make_incident(by=requester, title="VPN drops")
    text = expand(
        "Hi {caller.first_name}, {agent.name} here about {ticket.number} ({ticket.title}). "
        "See {ticket.url}. Regards, {agent.first_name}. {caller.phone} {nonsense} {}",
        ticket=incident,
        agent=agent,
    )
    assert text.startswith(f"Hi {requester.name.split()[0]}, {agent.name} here about")
    assert f"{incident.number} (VPN drops)" in text and incident.web_url in text
    assert text.endswith("{caller.phone} {nonsense} {}")


def test_the_composer_offers_active_responses_filled_in(agent, requester, client):
    incident = make_incident(by=requester, title="Printer <b>jam</b>")
    CannedResponse.objects.create(title="Greeting", body="Hello {caller.name}, re {ticket.title}")
    CannedResponse.objects.create(title="Retired", body="Old text", active=False)
    client.force_login(agent)
    html = client.get(f"/incidents/{incident.number}/").content.decode()
    assert 'id="canned-pick"' in html and ">Greeting</option>" in html
    assert f'data-text="Hello {requester.name}, re Printer &lt;b&gt;jam&lt;/b&gt;"' in html
    assert "Retired" not in html


def test_no_picker_when_there_are_none(agent, requester, client):
    incident = make_incident(by=requester)
    client.force_login(agent)
    assert 'id="canned-pick"' not in client.get(f"/incidents/{incident.number}/").content.decode()


def test_only_admins_keep_the_list(admin, agent):
    staff = Client()
    staff.force_login(agent)
    r = staff.get("/admin/core/cannedresponse/add/")
    assert r.status_code == 302 and "/admin/login/" in r["Location"]  # agents stay out
    boss = Client()
    boss.force_login(admin)
    r = boss.post("/admin/core/cannedresponse/add/", {"title": "Thanks", "body": "Thanks!"})
    assert r.status_code == 302 and CannedResponse.objects.filter(title="Thanks").exists()
