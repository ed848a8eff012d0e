"""Declarative state machines: each practice declares states and transitions as data.

One mechanism enforces them (``StateMachine.transition``); a refused transition raises
``InvalidTransition`` naming the transitions allowed from the current state, which the
API turns into HTTP 409 and the UI into a message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["InvalidTransition", "Phase", "State", "StateMachine", "Transition"]


class Phase(StrEnum):
    """Where a state sits in any lifecycle. Cross-cutting code (SLA timers, mail,
    search, reports) asks the phase, never a practice's state name: a change's
    ``rejected`` and an incident's ``cancelled`` are both ``cancelled``."""

    OPEN = "open"  # work to do (new, in progress, on hold, assess, ...)
    RESOLVED = "resolved"  # done, awaiting confirmation; may reopen
    CLOSED = "closed"  # done for good
    CANCELLED = "cancelled"  # will not be done


class InvalidTransition(Exception):
    def __init__(self, name: str, state: str, allowed: list[str]):
        self.name = name
        self.state = state
        self.allowed = allowed
        allowed_text = ", ".join(allowed) or "none"
        super().__init__(
            f"Cannot {name.replace('_', ' ')} from state '{state}'. Allowed: {allowed_text}."
        )


@dataclass(frozen=True)
class State:
    value: str
    label: str
    phase: Phase = Phase.OPEN
    colour: str = "grey"  # a CSS token; labels are always shown too

    @property
    def is_open(self) -> bool:
        return self.phase == Phase.OPEN


@dataclass(frozen=True)
class Transition:
    """``name`` moves a ticket from any of ``sources`` to ``target``.

    ``action`` is the policy action the actor needs; ``requires`` the fields that must be
    given; ``label`` the button text.
    """

    name: str
    sources: frozenset[str]
    target: str
    action: str
    label: str
    requires: tuple[str, ...] = ()
    style: str = "secondary"


@dataclass
class StateMachine:
    states: list[State]
    transitions: list[Transition]
    initial: str
    _by_name: dict[str, Transition] = field(init=False, repr=False)
    _states: dict[str, State] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {t.name: t for t in self.transitions}
        self._states = {s.value: s for s in self.states}
        for t in self.transitions:
            unknown = (set(t.sources) | {t.target}) - set(self._states)
            if unknown:
                raise ValueError(f"Transition {t.name} names unknown states {unknown}")

    def state(self, value: str) -> State:
        return self._states[value]

    def choices(self) -> list[tuple[str, str]]:
        return [(s.value, s.label) for s in self.states]

    def open_states(self) -> list[str]:
        return [s.value for s in self.states if s.is_open]

    def states_in(self, *phases: Phase) -> list[str]:
        return [s.value for s in self.states if s.phase in phases]

    def allowed(self, state: str, may: Callable[[Transition], bool] | None = None) -> list[str]:
        """Transition names possible from ``state`` (and permitted by ``may``)."""
        return [t.name for t in self.transitions if state in t.sources and (may is None or may(t))]

    def available(
        self, state: str, may: Callable[[Transition], bool] | None = None
    ) -> Iterable[Transition]:
        return [self._by_name[name] for name in self.allowed(state, may)]

    def get(self, name: str) -> Transition:
        try:
            return self._by_name[name]
        except KeyError as exc:
            raise InvalidTransition(name, "?", sorted(self._by_name)) from exc

    def check(self, state: str, name: str) -> Transition:
        """The transition ``name`` if it may start from ``state``, else InvalidTransition."""
        t = self._by_name.get(name)
        if t is None or state not in t.sources:
            raise InvalidTransition(name, state, self.allowed(state))
        return t
