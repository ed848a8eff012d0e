"""The problem lifecycle (ITIL 4 / ServiceNow names), declared as data."""

from __future__ import annotations

from mainspring.core.states import Phase, State, StateMachine, Transition
from mainspring.identity.policy import Action

from .models import ProblemState as S

OPEN = frozenset({S.NEW, S.ASSESS, S.ROOT_CAUSE_ANALYSIS, S.FIX_IN_PROGRESS})

PROBLEM_MACHINE = StateMachine(
    initial=S.NEW,
    states=[
        State(S.NEW, "New", colour="blue"),
        State(S.ASSESS, "Assess", colour="amber"),
        State(S.ROOT_CAUSE_ANALYSIS, "Root cause analysis", colour="amber"),
        State(S.FIX_IN_PROGRESS, "Fix in progress", colour="purple"),
        State(S.RESOLVED, "Resolved", Phase.RESOLVED, colour="green"),
        State(S.CLOSED, "Closed", Phase.CLOSED, colour="grey"),
        State(S.CANCELLED, "Cancelled", Phase.CANCELLED, colour="grey"),
    ],
    transitions=[
        Transition("assess", frozenset({S.NEW}), S.ASSESS, Action.WORK, "Assess", style="primary"),
        Transition(
            "analyse",
            frozenset({S.NEW, S.ASSESS}),
            S.ROOT_CAUSE_ANALYSIS,
            Action.WORK,
            "Analyse root cause",
            style="primary",
        ),
        Transition(
            "fix",
            frozenset({S.ASSESS, S.ROOT_CAUSE_ANALYSIS}),
            S.FIX_IN_PROGRESS,
            Action.WORK,
            "Start fix",
            style="primary",
        ),
        Transition(
            "resolve",
            frozenset({S.ASSESS, S.ROOT_CAUSE_ANALYSIS, S.FIX_IN_PROGRESS}),
            S.RESOLVED,
            Action.WORK,
            "Resolve",
            requires=("resolution_code", "resolution_notes"),
            style="primary",
        ),
        Transition(
            "close", frozenset({S.RESOLVED}), S.CLOSED, Action.WORK, "Close", style="primary"
        ),
        Transition("reopen", frozenset({S.RESOLVED}), S.ROOT_CAUSE_ANALYSIS, Action.WORK, "Reopen"),
        Transition("cancel", OPEN, S.CANCELLED, Action.WORK, "Cancel", style="danger"),
    ],
)
