"""SLA in the agent queue (each row's soonest timer) and the portal target date."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

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
