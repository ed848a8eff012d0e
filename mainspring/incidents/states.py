"""The incident lifecycle, declared as data (DESIGN.md spine 3)."""

from __future__ import annotations

from mainspring.core.states import Phase, State, StateMachine, Transition
from mainspring.identity.policy import Action

from .models import IncidentState as S

ACTIVE = frozenset({S.NEW, S.IN_PROGRESS, S.ON_HOLD})

INCIDENT_MACHINE = StateMachine(
    initial=S.NEW,
    states=[
        State(S.NEW, "New", colour="blue"),
        State(S.IN_PROGRESS, "In progress", colour="amber"),
        State(S.ON_HOLD, "On hold", colour="purple"),
        State(S.RESOLVED, "Resolved", Phase.RESOLVED, colour="green"),
        State(S.CLOSED, "Closed", Phase.CLOSED, colour="grey"),
        State(S.CANCELLED, "Cancelled", Phase.CANCELLED, colour="grey"),
    ],
    transitions=[
        Transition(
            "start", frozenset({S.NEW}), S.IN_PROGRESS, Action.WORK, "Start work", style="primary"
        ),
        Transition(
            "hold",
            frozenset({S.NEW, S.IN_PROGRESS}),
            S.ON_HOLD,
            Action.WORK,
            "Put on hold",
            requires=("hold_reason",),
        ),
        Transition(
            "resume", frozenset({S.ON_HOLD}), S.IN_PROGRESS, Action.WORK, "Resume", style="primary"
        ),
        Transition(
            "resolve",
            ACTIVE,
            S.RESOLVED,
            Action.WORK,
            "Resolve",
            requires=("resolution_code", "resolution_notes"),
            style="primary",
        ),
        Transition("reopen", frozenset({S.RESOLVED}), S.IN_PROGRESS, Action.REOPEN, "Reopen"),
        Transition(
            "close", frozenset({S.RESOLVED}), S.CLOSED, Action.CONFIRM, "Close", style="primary"
        ),
        Transition("cancel", ACTIVE, S.CANCELLED, Action.WORK, "Cancel", style="danger"),
    ],
)
