"""Practices declare themselves once; cross-cutting code asks the registry and the phase."""

from __future__ import annotations

import pytest
from django.utils import timezone

from mainspring.core import registry
from mainspring.core import services as core
from mainspring.core.events import TicketEvent, prepare_new_ticket, publish
from mainspring.core.models import Channel, Ticket
from mainspring.core.states import Phase, State, StateMachine, Transition
from mainspring.identity.policy import Action
from mainspring.incidents import services as incidents
from mainspring.incidents.states import INCIDENT_MACHINE
from mainspring.notifications.services import _plan
from mainspring.sla.models import BusinessCalendar, SlaDefinition, SlaTimer
from tests.factories import make_incident

# A lifecycle whose "will not be done" state is not called "cancelled", like a change's.
REVIEW_MACHINE = StateMachine(
    initial="draft",
    states=[
        State("draft", "Draft"),
        State("implemented", "Implemented", Phase.RESOLVED),
        State("rejected", "Rejected", Phase.CANCELLED),
    ],
    transitions=[
        Transition("implement", frozenset({"draft"}), "implemented", Action.WORK, "Implement"),
        Transition("reject", frozenset({"draft"}), "rejected", Action.WORK, "Reject"),
    ],
)


@pytest.fixture
def make_sla(db):
    always = BusinessCalendar.objects.create(
        name="Always (registry test)", hours={str(d): [["00:00", "24:00"]] for d in range(7)}
    )

    def make(**fields):
        return SlaDefinition.objects.create(target="resolution", calendar=always, **fields)

    return make


@pytest.fixture
def review_kind():
    practice = registry.register(
        registry.Practice(
            kind="review",
            prefix="RVW",
            label="Review",
            label_plural="Reviews",
            model_path="core.Ticket",
            machine=REVIEW_MACHINE,
            namespace="reviews",
            services="",
        )
    )
    yield practice
    registry.unregister("review")


def _create_review(by) -> Ticket:
    """What a practice's create service does, reduced to the core steps."""
    now = timezone.now()
    ticket = Ticket(
        number="RVW0001001",
        kind="review",
        title="Quarterly access review",
        state="draft",
        requester=by,
        opened_by=by,
        priority=3,
        created_at=now,
        updated_at=now,
    )
    prepare_new_ticket(ticket)
    ticket.save()
    publish(TicketEvent("created", ticket.pk, by.pk, Channel.UI, ticket=ticket))
    return ticket


def test_incidents_are_registered_and_found_by_kind_prefix_and_number(db):
    practice = registry.by_kind("incident")
    assert practice is not None and practice.prefix == "INC"
    assert registry.by_prefix("inc") is practice
    assert registry.by_number("inc0001042") is practice
    assert registry.by_number("XYZ0001042") is None
    assert practice.model._meta.label == "incidents.Incident"
    assert "incident" in registry.kinds()


def test_a_prefix_belongs_to_one_kind(review_kind):
    clash = registry.Practice(
        kind="other",
        prefix="RVW",
        label="Other",
        label_plural="Others",
        model_path="core.Ticket",
        machine=REVIEW_MACHINE,
        namespace="others",
        services="",
    )
    with pytest.raises(ValueError, match="RVW"):
        registry.register(clash)
    assert registry.by_kind("other") is None


def test_open_is_derived_from_the_phase():
    assert INCIDENT_MACHINE.states_in(Phase.OPEN) == INCIDENT_MACHINE.open_states()
    assert registry.phase_of("incident", "resolved") == Phase.RESOLVED
    assert registry.phase_of("incident", "cancelled") == Phase.CANCELLED
    assert registry.phase_of("incident", "on_hold") == Phase.OPEN
    assert not REVIEW_MACHINE.state("rejected").is_open


def test_state_change_event_carries_the_phase(db, agent):
    seen: list[TicketEvent] = []
    incident = make_incident(by=agent)
    from mainspring.core import events

    events._subscribers.append(("state_changed", seen.append, False))
    try:
        incidents.resolve(incident, by=agent, code="solved", notes="Restarted the service.")
    finally:
        events._subscribers.pop()
    assert [(e.data["to"], e.data["phase"]) for e in seen] == [("resolved", "resolved")]
    assert incident.resolved_at is not None and not incident.is_open
    incidents.reopen(incident, by=agent)
    incident.refresh_from_db()
    assert incident.resolved_at is None and incident.is_open


def test_resolution_mail_follows_the_phase_not_the_state_name():
    def event(to: str, phase: str) -> TicketEvent:
        return TicketEvent("state_changed", 1, None, "ui", data={"to": to, "phase": phase})

    assert _plan(event("implemented", "resolved")) == "resolved"
    assert _plan(event("resolved", "closed")) is None


def test_a_rejected_ticket_cancels_its_sla_timer_rather_than_meeting_it(
    review_kind, agent, make_sla
):
    make_sla(name="Review within a day", kinds=["review"], duration_seconds=86_400)
    ticket = _create_review(agent)
    assert SlaTimer.objects.get(ticket=ticket).state == "in_progress"
    core.change_state(ticket, REVIEW_MACHINE, "reject", by=agent, channel=Channel.UI)
    timer = SlaTimer.objects.get(ticket=ticket)
    assert timer.state == "cancelled"
    assert ticket.closed_at is not None and not ticket.is_open


def test_an_implemented_ticket_meets_its_sla(review_kind, agent, make_sla):
    make_sla(name="Review within a day", kinds=["review"], duration_seconds=86_400)
    ticket = _create_review(agent)
    core.change_state(ticket, REVIEW_MACHINE, "implement", by=agent, channel=Channel.UI)
    assert SlaTimer.objects.get(ticket=ticket).state == "met"
    assert ticket.resolved_at is not None


def test_the_jump_box_opens_a_number_of_any_registered_prefix(client, agent):
    incident = make_incident(by=agent)
    client.force_login(agent)
    digits = str(int(incident.number[3:]))
    for typed in (incident.number.lower(), f"#{digits}", digits):
        response = client.get("/jump/", {"q": typed})
        assert response.status_code == 302
        assert response["Location"] == f"/incidents/{incident.number}/"
    response = client.get("/jump/", {"q": "INC0999999"}, follow=True)
    assert "There is no incident INC0999999." in response.content.decode()
