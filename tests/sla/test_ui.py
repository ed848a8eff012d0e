"""The incident page shows its SLA timers; admins manage calendars and SLAs in the admin."""

from __future__ import annotations

import datetime as dt

from mainspring.incidents import services as incidents
from mainspring.sla.templatetags.sla_tags import short_duration
from tests.factories import make_incident

MIN = dt.timedelta(minutes=1)


def test_short_duration_uses_one_or_two_units():
    assert short_duration(45) == "45 s"
    assert short_duration(3 * 60) == "3 min"
    assert short_duration(2 * 3600 + 5 * 60) == "2 h 05 min"
    assert short_duration(3 * 86400 + 4 * 3600 + 59) == "3 d 4 h"
    assert short_duration(-90 * 60) == "−1 h 30 min"


def test_detail_page_shows_time_left_state_and_colour(clock, client, agent, make_sla):
    make_sla(name="Resolve in 1 h", duration_seconds=3600, pause_states=["on_hold"])
    make_sla(name="Respond in 10 min", target="response", duration_seconds=600)
    incident = make_incident(by=agent)
    client.force_login(agent)
    clock.shift(20 * MIN)
    page = client.get(f"/incidents/{incident.number}/").content.decode()
    assert "Service levels" in page
    assert "Resolve in 1 h" in page and "40 min left" in page
    assert "badge-blue" in page
    # The response SLA ran out (the sweep has not run yet): the page says so in words.
    assert "Overdue by 10 min" in page
    assert "badge-red" in page and "Breached" in page
    incidents.hold(incident, by=agent, hold_reason="awaiting_caller")
    page = client.get(f"/incidents/{incident.number}/").content.decode()
    assert "clock paused" in page and "badge-purple" in page


def test_no_sla_section_without_timers(client, agent):
    incident = make_incident(by=agent)
    client.force_login(agent)
    assert "Service levels" not in client.get(f"/incidents/{incident.number}/").content.decode()


def test_admin_screens_for_calendars_and_slas(client, admin, always):
    client.force_login(admin)
    assert client.get("/admin/sla/businesscalendar/").status_code == 200
    assert client.get(f"/admin/sla/businesscalendar/{always.pk}/change/").status_code == 200
    assert client.get("/admin/sla/sladefinition/add/").status_code == 200


def test_demo_slas(clock, agent):
    from mainspring.sla.demo import load_demo_slas
    from mainspring.sla.models import SlaTimer

    definitions = load_demo_slas()
    assert len(definitions) == 8
    assert len(load_demo_slas()) == 8  # idempotent
    p4 = make_incident(by=agent, impact="medium", urgency="low")
    assert p4.priority == 4
    timers = {t.name: t for t in SlaTimer.objects.filter(ticket=p4)}
    assert set(timers) == {"P4 response", "P4 resolution"}
    # Monday 09:00 London (BST): 8 business hours → 17:00 the same day (16:00 UTC).
    assert timers["P4 response"].breach_at == dt.datetime(2026, 6, 1, 16, tzinfo=dt.UTC)
    # 5 business days of 10 h → the next Monday 09:00 London.
    assert timers["P4 resolution"].breach_at == dt.datetime(2026, 6, 8, 8, tzinfo=dt.UTC)
