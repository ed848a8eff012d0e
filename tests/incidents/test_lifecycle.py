"""Incident services: the lifecycle, its rules and what each step records."""

import pytest
from django.core import mail  # noqa: F401  (locmem backend; notifications tested elsewhere)

from mainspring.core.models import JournalKind
from mainspring.core.services import StaleVersion, TicketValidationError, add_journal_entry
from mainspring.core.states import InvalidTransition
from mainspring.identity.policy import Forbidden, NotVisible
from mainspring.incidents import services
from mainspring.incidents.models import IncidentState as S
from tests.factories import UserFactory, make_incident

pytestmark = pytest.mark.django_db


def test_requester_creates_with_safe_defaults(requester):
    incident = make_incident(by=requester)
    assert incident.state == S.NEW and incident.is_open
    assert incident.requester == requester and incident.opened_by == requester
    assert incident.channel == "portal"
    assert incident.priority == 5
    assert list(incident.audit.values_list("field", "new_value")) == [
        ("state", "new"),
        ("priority", "5"),
    ]


@pytest.mark.parametrize(
    "field", ["requester", "assignee", "assignment_group", "impact", "urgency"]
)
def test_requester_cannot_set_privileged_fields(requester, agent, service_desk, field):
    values = {
        "requester": agent,
        "assignee": agent,
        "assignment_group": service_desk,
        "impact": "high",
        "urgency": "high",
        "channel": "phone",
    }
    with pytest.raises(TicketValidationError) as info:
        make_incident(by=requester, **{field: values[field]})
    assert field in info.value.fields


def test_agent_logs_on_behalf_of_caller(agent, requester, service_desk):
    incident = make_incident(
        by=agent,
        requester=requester,
        channel="phone",
        assignment_group=service_desk,
        impact="high",
        urgency="medium",
    )
    assert incident.requester == requester and incident.opened_by == agent
    assert incident.channel == "phone" and incident.priority == 2


def test_assignee_must_belong_to_group(agent, network_team, requester):
    with pytest.raises(TicketValidationError) as info:
        make_incident(by=agent, requester=requester, assignment_group=network_team, assignee=agent)
    assert "assignee" in info.value.fields


def test_blank_and_oversized_titles_are_refused(requester):
    with pytest.raises(TicketValidationError) as info:
        make_incident(by=requester, title="   ")
    assert "title" in info.value.fields
    with pytest.raises(TicketValidationError):
        make_incident(by=requester, title="x" * 201)


def test_full_lifecycle_records_every_state(agent, requester):
    incident = make_incident(by=requester)
    services.start(incident, by=agent)
    assert incident.state == S.IN_PROGRESS and incident.assignee == agent
    services.hold(incident, by=agent, hold_reason="awaiting_caller")
    assert incident.state == S.ON_HOLD and incident.hold_reason == "awaiting_caller"
    services.resume(incident, by=agent)
    assert incident.hold_reason == ""
    services.resolve(incident, by=agent, code="solved", notes="Reset the VPN profile.")
    assert incident.state == S.RESOLVED and not incident.is_open
    assert incident.resolved_at is not None
    services.close(incident, by=requester)
    incident.refresh_from_db()
    assert incident.state == S.CLOSED and incident.closed_at is not None
    states = list(incident.audit.filter(field="state").values_list("new_value", flat=True))
    assert states == ["new", "in_progress", "on_hold", "in_progress", "resolved", "closed"]


def test_resolve_requires_code_and_notes(agent, requester):
    incident = make_incident(by=requester)
    with pytest.raises(TicketValidationError) as info:
        services.resolve(incident, by=agent, code="", notes="  ")
    assert set(info.value.fields) == {"resolution_code", "resolution_notes"}
    with pytest.raises(TicketValidationError):
        services.resolve(incident, by=agent, code="no-such-code", notes="done")
    incident.refresh_from_db()
    assert incident.state == S.NEW


def test_hold_requires_a_known_reason(agent, requester):
    incident = make_incident(by=requester)
    with pytest.raises(TicketValidationError):
        services.hold(incident, by=agent, hold_reason="lunch")


def test_illegal_transition_is_refused_and_changes_nothing(agent, requester):
    incident = make_incident(by=requester)
    version = incident.version
    with pytest.raises(InvalidTransition) as info:
        services.close(incident, by=agent)
    assert set(info.value.allowed) == {"start", "hold", "resolve", "cancel"}
    incident.refresh_from_db()
    assert incident.state == S.NEW and incident.version == version


def test_requester_reopens_or_confirms_only_their_own(agent, requester, other_requester):
    incident = make_incident(by=requester)
    services.resolve(incident, by=agent, code="solved", notes="Fixed.")
    with pytest.raises(NotVisible):
        services.reopen(incident, by=other_requester)
    services.reopen(incident, by=requester, reason="Still broken after reboot.")
    incident.refresh_from_db()
    assert incident.state == S.IN_PROGRESS
    assert incident.resolution_code is None and incident.resolved_at is None
    assert incident.journal.filter(kind="comment", body__contains="Still broken").exists()


def test_requester_cannot_do_agent_work(requester):
    incident = make_incident(by=requester)
    with pytest.raises(Forbidden):
        services.start(incident, by=requester)
    with pytest.raises(Forbidden):
        services.resolve(incident, by=requester, code="solved", notes="I fixed it")


def test_first_response_is_first_public_agent_comment(agent, requester):
    incident = make_incident(by=requester)
    add_journal_entry(incident, by=requester, kind=JournalKind.COMMENT, body="Any news?")
    add_journal_entry(incident, by=agent, kind=JournalKind.WORK_NOTE, body="Checking logs")
    incident.refresh_from_db()
    assert incident.responded_at is None
    add_journal_entry(incident, by=agent, kind=JournalKind.COMMENT, body="Looking at it.")
    incident.refresh_from_db()
    first = incident.responded_at
    assert first is not None
    add_journal_entry(incident, by=agent, kind=JournalKind.COMMENT, body="Still on it.")
    incident.refresh_from_db()
    assert incident.responded_at == first


def test_requester_cannot_write_work_notes(requester):
    incident = make_incident(by=requester)
    with pytest.raises(Forbidden):
        add_journal_entry(incident, by=requester, kind=JournalKind.WORK_NOTE, body="hidden")


def test_reassignment_count_and_manager_rule(agent, other_agent, manager, requester, service_desk):
    incident = make_incident(
        by=agent, requester=requester, assignment_group=service_desk, assignee=agent
    )
    # A colleague cannot take it off the assignee...
    with pytest.raises(Forbidden):
        services.assign(incident, by=other_agent, assignee=other_agent)
    # ...the assignee can hand it over, and the group's manager can move it.
    services.assign(incident, by=agent, assignee=other_agent)
    services.assign(incident, by=manager, assignee=agent)
    incident.refresh_from_db()
    assert incident.reassignment_count == 2
    assert incident.assignee == agent


def test_manager_of_another_group_cannot_reassign(
    agent, other_agent, requester, service_desk, network_team
):
    from tests.factories import add_member

    outsider = UserFactory(username="netmanager", role="manager")
    add_member(network_team, outsider, manager=True)
    incident = make_incident(
        by=agent, requester=requester, assignment_group=service_desk, assignee=agent
    )
    with pytest.raises(Forbidden):
        services.assign(incident, by=outsider, assignee=other_agent)


def test_stale_version_is_refused(agent, requester):
    incident = make_incident(by=requester)
    stale = incident.version
    services.update_incident(incident, by=agent, title="VPN down for sales", expected_version=stale)
    with pytest.raises(StaleVersion) as info:
        services.update_incident(incident, by=agent, title="Overwrite", expected_version=stale)
    assert info.value.current == stale + 1
    incident.refresh_from_db()
    assert incident.title == "VPN down for sales"


def test_parent_resolution_resolves_children(agent, requester):
    parent = make_incident(by=agent, requester=requester, title="Email outage")
    children = [
        make_incident(by=agent, requester=requester, title=f"No mail {i}", parent=parent)
        for i in range(3)
    ]
    services.cancel(children[2], by=agent)
    services.resolve(parent, by=agent, code="solved", notes="Mail server restarted.")
    for child in children[:2]:
        child.refresh_from_db()
        assert child.state == S.RESOLVED
        assert child.resolution_notes == "Mail server restarted."
        # The public entry is neutral (the child's requester may not see the parent);
        # the number is in an internal note.
        assert child.journal.filter(kind="system", body__contains="parent incident").exists()
        assert not child.journal.filter(kind="system", body__contains=parent.number).exists()
        assert child.journal.filter(kind="work_note", body__contains=parent.number).exists()
    children[2].refresh_from_db()
    assert children[2].state == S.CANCELLED


def test_closed_incident_cannot_be_edited(agent, requester):
    incident = make_incident(by=requester)
    services.cancel(incident, by=agent)
    with pytest.raises(TicketValidationError):
        services.update_incident(incident, by=agent, title="changed")


def test_auto_close_after_configured_days(agent, requester, settings):
    import datetime as dt

    import time_machine

    settings.INCIDENT_AUTO_CLOSE_DAYS = 3
    old = make_incident(by=requester)
    recent = make_incident(by=requester)
    with time_machine.travel(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)):
        services.resolve(old, by=agent, code="solved", notes="ok")
    services.resolve(recent, by=agent, code="solved", notes="ok")
    assert services.auto_close_resolved() == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.state == S.CLOSED and recent.state == S.RESOLVED
    assert old.audit.filter(field="state", new_value="closed", channel="system").exists()
