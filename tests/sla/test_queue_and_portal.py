"""SLA in the agent queue (each row's soonest timer) and the portal target date."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mainspring.core.services import add_journal_entry
from mainspring.incidents import services as incidents
from tests.factories import make_incident

from .conftest import T0

H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)


def numbers(response) -> list[str]:
    return [t.number for t in response.context["rows"]]


def sidebar_count(response, label: str) -> int:
    return next(i["count"] for i in response.context["sidebar"] if i["label"] == label)


@pytest.fixture
def tickets(clock, agent, make_sla):
    """plain: no timer; a, b, c: a 4 h resolution SLA started at T0, T0+1h, T0+3h.

    At T0+4h30: a is past its deadline, b breaches in 30 min (at risk), c in 2 h 30 (not).
    """
    plain = make_incident(by=agent, title="No SLA")
    make_sla(name="Resolve in 4 h", duration_seconds=4 * 3600)
    a = make_incident(by=agent, title="A")
    clock.shift(H)
    b = make_incident(by=agent, title="B")
    clock.shift(2 * H)
    c = make_incident(by=agent, title="C")
    clock.move_to(T0 + 4 * H + 30 * MIN)
    return {"plain": plain, "a": a, "b": b, "c": c}


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", ["/incidents/", "/incidents/?sort=priority"])
def test_queue_query_count_does_not_grow_with_rows(
    clock, client, agent, make_sla, django_assert_max_num_queries, url
):
    make_sla(duration_seconds=3 * 3600)
    make_sla(name="Respond", target="response", duration_seconds=1800)
    client.force_login(agent)
    for _ in range(5):
        make_incident(by=agent)
    clock.shift(90 * MIN)
    small = _queries(client, url)
    for _ in range(15):
        make_incident(by=agent)
    with django_assert_max_num_queries(small):
        response = client.get(url)
    assert len(response.context["rows"]) == 20
    assert all(row.sla for row in response.context["rows"])


def test_row_shows_the_soonest_running_timer(tickets, client, agent):
    client.force_login(agent)
    rows = {row.number: row for row in client.get("/incidents/").context["rows"]}
    assert rows[tickets["plain"].number].sla is None
    assert rows[tickets["a"].number].sla["overdue"]
    assert not rows[tickets["b"].number].sla["overdue"]
    assert rows[tickets["b"].number].sla["left"] == "30 min"


def _portal(client, incident) -> str:
    return client.get(reverse("portal:ticket", kwargs={"number": incident.number})).content.decode()


def test_portal_shows_the_resolution_target_in_site_time(
    clock, client, requester, make_sla, settings
):
    settings.TIME_ZONE = "Europe/Paris"
    make_sla(name="Resolve in 4 h", duration_seconds=4 * 3600)
    make_sla(name="Respond", target="response", duration_seconds=600)
    incident = make_incident(by=requester)
    client.force_login(requester)
    page = _portal(client, incident)
    # T0 is 08:00 UTC; + 4 h = 12:00 UTC = 14:00 in Paris (summer time).
    assert re.search(r"We aim to resolve this by <time[^>]*>1 Jun 2026, 14:00", page)


def test_portal_shows_nothing_without_a_timer(client, requester):
    incident = make_incident(by=requester)
    client.force_login(requester)
    assert "We aim to resolve" not in _portal(client, incident)


# --- Filter and sort by SLA (from Ticket.sla_breach_at / sla_at_risk_at) ----------------


def test_ticket_row_carries_the_soonest_running_deadline(clock, agent, make_sla):
    make_sla(name="Resolve", duration_seconds=4 * 3600)
    make_sla(name="Respond", target="response", duration_seconds=1800)
    incident = make_incident(by=agent)
    incident.refresh_from_db()
    assert incident.sla_breach_at == T0 + 30 * MIN  # the response timer
    assert incident.sla_at_risk_at == T0 + dt.timedelta(seconds=1350)  # 75 % of 30 min
    add_journal_entry(incident, by=agent, kind="comment", body="Looking into it")
    incident.refresh_from_db()
    assert incident.sla_breach_at == T0 + 4 * H  # response met: resolution is next
    assert incident.sla_at_risk_at == T0 + 3 * H
    incidents.resolve(incident, by=agent, code="solved", notes="Done")
    incident.refresh_from_db()
    assert incident.sla_breach_at is None and incident.sla_at_risk_at is None


def test_paused_clock_has_no_deadline_and_resumes_with_one(clock, agent, make_sla):
    make_sla(duration_seconds=4 * 3600, pause_states=["on_hold"])
    incident = make_incident(by=agent)
    incidents.hold(incident, by=agent, hold_reason="awaiting_caller")
    incident.refresh_from_db()
    assert incident.sla_breach_at is None
    clock.shift(H)
    incidents.resume(incident, by=agent)
    incident.refresh_from_db()
    assert incident.sla_breach_at == T0 + 5 * H


def test_filter_breached_and_at_risk(tickets, client, agent):
    client.force_login(agent)
    assert numbers(client.get("/incidents/?sla=breached")) == [tickets["a"].number]
    assert numbers(client.get("/incidents/?sla=at_risk")) == [tickets["b"].number]
    response = client.get("/incidents/")
    assert sidebar_count(response, "SLA breached") == 1
    assert sidebar_count(response, "SLA at risk") == 1


def test_a_bad_sla_filter_is_reported_not_fatal(tickets, client, agent):
    client.force_login(agent)
    response = client.get("/incidents/?sla=%3Cscript%3E")
    assert response.status_code == 200
    assert len(numbers(response)) == 4
    assert "SLA" in response.context["ignored"]


def test_sort_breaches_soonest_then_tickets_without_a_deadline(tickets, client, agent, monkeypatch):
    from mainspring.incidents import queues

    client.force_login(agent)
    expected = [tickets[k].number for k in ("a", "b", "c", "plain")]
    assert numbers(client.get("/incidents/?sort=sla")) == expected
    # Keyset pages across the boundary between "has a deadline" and "has none".
    monkeypatch.setattr(queues, "PAGE_SIZE", 3)
    first = client.get("/incidents/?sort=sla")
    assert numbers(first) == expected[:3]
    second = client.get(first.context["older_href"].replace("?", "/incidents/?"))
    assert numbers(second) == expected[3:]
    back = client.get(second.context["newer_href"].replace("?", "/incidents/?"))
    assert numbers(back) == expected[:3]
    monkeypatch.setattr(queues, "PAGE_SIZE", 1)
    page = client.get("/incidents/?sort=sla")
    seen = numbers(page)
    while page.context["older_href"]:
        page = client.get(page.context["older_href"].replace("?", "/incidents/?"))
        seen += numbers(page)
    assert seen == expected
    backwards = numbers(page)
    while page.context["newer_href"]:
        page = client.get(page.context["newer_href"].replace("?", "/incidents/?"))
        backwards = numbers(page) + backwards
    assert backwards == expected


def test_sla_sort_is_ascending_only(tickets, client, agent):
    client.force_login(agent)
    response = client.get("/incidents/?sort=-sla")
    assert response.context["sort"] == "-number"
    assert 'id="sort-sla" href="/incidents/?sort=sla"' in response.content.decode()


def test_sla_sort_query_count_does_not_grow(clock, client, agent, make_sla):
    make_sla(duration_seconds=3 * 3600)
    client.force_login(agent)
    for _ in range(3):
        make_incident(by=agent)
    small = _queries(client, "/incidents/?sort=sla&sla=at_risk")
    for _ in range(10):
        make_incident(by=agent)
    assert _queries(client, "/incidents/?sort=sla&sla=at_risk") <= small


def _api_numbers(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["number"] for row in response.json()["results"]]


def test_api_filters_and_orders_by_sla(tickets, api_for, agent):
    api = api_for(agent)
    assert _api_numbers(api.get("/api/v1/incidents/?sla=breached")) == [tickets["a"].number]
    assert _api_numbers(api.get("/api/v1/incidents/?sla=at_risk")) == [tickets["b"].number]
    ordered = [tickets[k].number for k in ("a", "b", "c")]
    assert _api_numbers(api.get("/api/v1/incidents/?ordering=sla_breach_at")) == ordered
    first = api.get("/api/v1/incidents/?ordering=sla_breach_at&page_size=2")
    assert _api_numbers(first) == ordered[:2]
    assert _api_numbers(api.get(first.json()["next"])) == ordered[2:]
    body = api.get(f"/api/v1/incidents/{tickets['b'].number}/").json()
    assert body["sla_breach_at"] == "2026-06-01T13:00:00Z"
    bad = api.get("/api/v1/incidents/?sla=soon")
    assert bad.status_code == 400
    assert "sla" in bad.json()["error"]["fields"]
