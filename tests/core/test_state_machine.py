"""The incident lifecycle is data, enforced in one place."""

import pytest

from mainspring.core.states import InvalidTransition, State, StateMachine, Transition
from mainspring.incidents.models import IncidentState as S
from mainspring.incidents.states import INCIDENT_MACHINE

EXPECTED = {
    S.NEW: {"start", "hold", "resolve", "cancel"},
    S.IN_PROGRESS: {"hold", "resolve", "cancel"},
    S.ON_HOLD: {"resume", "resolve", "cancel"},
    S.RESOLVED: {"reopen", "close"},
    S.CLOSED: set(),
    S.CANCELLED: set(),
}


@pytest.mark.parametrize("state", list(EXPECTED))
def test_allowed_transitions_per_state(state):
    assert set(INCIDENT_MACHINE.allowed(state)) == EXPECTED[state]


@pytest.mark.parametrize(
    ("state", "name"),
    [
        (state, name)
        for state in EXPECTED
        for name in sorted(
            {"start", "hold", "resume", "resolve", "reopen", "close", "cancel"} - EXPECTED[state]
        )
    ],
)
def test_illegal_transition_names_the_allowed_ones(state, name):
    with pytest.raises(InvalidTransition) as info:
        INCIDENT_MACHINE.check(state, name)
    assert sorted(info.value.allowed) == sorted(EXPECTED[state])
    assert info.value.state == state


def test_open_states_are_the_active_ones():
    assert set(INCIDENT_MACHINE.open_states()) == {S.NEW, S.IN_PROGRESS, S.ON_HOLD}


def test_machine_rejects_transitions_to_unknown_states():
    with pytest.raises(ValueError, match="unknown states"):
        StateMachine(
            states=[State("a", "A")],
            transitions=[Transition("go", frozenset({"a"}), "b", "work", "Go")],
            initial="a",
        )


def test_resolve_requires_code_and_notes_declared():
    assert INCIDENT_MACHINE.get("resolve").requires == ("resolution_code", "resolution_notes")
    assert INCIDENT_MACHINE.get("hold").requires == ("hold_reason",)
