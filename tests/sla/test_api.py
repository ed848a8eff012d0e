"""SLA API: calendars, definitions, a ticket's timers; roles and the error shape."""

from __future__ import annotations

import datetime as dt

import pytest

from mainspring.sla.models import BusinessCalendar, SlaDefinition
from tests.factories import make_incident

MIN = dt.timedelta(minutes=1)


def test_default_24x7_calendar_exists(db):
    calendar = BusinessCalendar.objects.get(name="24×7")
    assert calendar.hours["6"] == [["00:00", "24:00"]]


def test_agents_read_admins_write(api_for, agent, admin, requester, always):
    assert api_for(agent).get("/api/v1/calendars/").status_code == 200
    assert api_for(requester).get("/api/v1/calendars/").status_code == 403
    body = {
        "name": "Paris office",
        "time_zone": "Europe/Paris",
        "hours": {"0": [["08:00", "12:00"], ["13:00", "17:30"]]},
        "holiday_country": "FR",
    }
    denied = api_for(agent).post("/api/v1/calendars/", body, format="json")
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "forbidden"
    created = api_for(admin).post("/api/v1/calendars/", body, format="json")
    assert created.status_code == 201, created.json()
    assert BusinessCalendar.objects.get(name="Paris office").time_zone == "Europe/Paris"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("time_zone", "Mars/Olympus"),
        ("hours", {"0": [["18:00", "08:00"]]}),
        ("hours", {"9": [["08:00", "12:00"]]}),
        ("hours", "always"),
        ("hours", {"0": [{"a": 1}]}),
        ("hours", {"0": [[8, 12]]}),
        ("hours", {"0": [["08:00", "12:00", "13:00"]]}),
        ("holiday_country", "XX"),
    ],
)
def test_bad_calendar_input_is_a_field_error(api_for, admin, field, value):
    body = {"name": "Bad", "time_zone": "UTC", "hours": {"0": [["08:00", "12:00"]]}}
    body[field] = value
    response = api_for(admin).post("/api/v1/calendars/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not BusinessCalendar.objects.filter(name="Bad").exists()


def test_sla_create_validates_thresholds_and_unknown_fields(api_for, admin, always):
    good = {
        "name": "P1 response",
        "target": "response",
        "duration_seconds": 900,
        "calendar": always.pk,
        "priorities": [1],
    }
    response = api_for(admin).post("/api/v1/slas/", good, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["thresholds"][0]["percent"] == 50
    bad = {**good, "name": "x", "thresholds": [{"percent": 50, "actions": [{"type": "explode"}]}]}
    response = api_for(admin).post("/api/v1/slas/", bad, format="json")
    assert response.status_code == 400
    assert "thresholds" in response.json()["error"]["fields"]
    bad["thresholds"] = [{"percent": 50, "actions": 5}]
    assert api_for(admin).post("/api/v1/slas/", bad, format="json").status_code == 400
    response = api_for(admin).post("/api/v1/slas/", {**good, "name": "y", "sla": 1}, format="json")
    assert response.status_code == 400
    patched = api_for(admin).patch(
        f"/api/v1/slas/{SlaDefinition.objects.get(name='P1 response').pk}/",
        {"duration_seconds": 600},
        format="json",
    )
    assert patched.status_code == 200
    assert SlaDefinition.objects.get(name="P1 response").duration_seconds == 600


def test_ticket_timers(clock, api_for, agent, requester, other_requester, make_sla):
    make_sla(name="Fix it", duration_seconds=3600)
    incident = make_incident(by=requester)
    clock.shift(10 * MIN)
    response = api_for(requester).get(f"/api/v1/incidents/{incident.number}/slas/")
    assert response.status_code == 200
    (timer,) = response.json()
    assert timer["sla"] == "Fix it"
    assert timer["target"] == "resolution"
    assert timer["state"] == "in_progress"
    assert timer["elapsed_seconds"] == 600
    assert timer["remaining_seconds"] == 3000
    assert timer["breach_at"].startswith("2026-06-01T09:00:00")
    hidden = api_for(other_requester).get(f"/api/v1/incidents/{incident.number}/slas/")
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "not_found"
    missing = api_for(agent).get("/api/v1/incidents/INC9999999/slas/")
    assert missing.status_code == 404


def test_ticket_timers_query_count(clock, api_for, agent, make_sla, django_assert_max_num_queries):
    for i in range(3):
        make_sla(name=f"S{i}")
    incident = make_incident(by=agent)
    client = api_for(agent)
    with django_assert_max_num_queries(6):
        response = client.get(f"/api/v1/incidents/{incident.number}/slas/")
    assert len(response.json()) == 3
