"""The practice registry: each ticket kind declares itself once, here.

A practice app (incidents, problems, later changes and requests) calls ``register``
from its ``AppConfig.ready()`` with a ``Practice``: its kind, number prefix, model,
state machine and the dotted paths of what it adds (API registration, filter set,
forms, demo loader). Everything that must know the list of practices asks this module
instead of importing a practice: the navigation and the jump box, ``Ticket.web_url``,
the ticket redirect, the API router, the demo command, search and the phase of a state
that SLA timers and notifications act on. ``core`` and ``identity`` import no practice;
a practice is found at run time, by kind or by number prefix.

Dotted paths rather than objects: the registry is filled in ``ready()``, when a
practice's views, serializers and forms may not be importable yet without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.utils.module_loading import import_string

from .states import Phase, StateMachine

__all__ = [
    "Practice",
    "by_kind",
    "by_number",
    "by_prefix",
    "demo_loaders",
    "kinds",
    "phase_of",
    "practices",
    "register",
    "register_demo",
    "unregister",
]


@dataclass(frozen=True, eq=False)
class Practice:
    """One ticket kind, as the rest of the system sees it.

    ``namespace`` is the URL namespace of its agent screens (``<namespace>:queue``,
    ``<namespace>:detail``); ``api_register`` a dotted path to ``register(router)``
    for its API routes; ``demo`` a dotted path to ``load_demo(*, people, rng, ...)``
    for the demo command; ``services`` the dotted path of the module whose
    ``transition(ticket, name, *, by, channel, **params)`` and
    ``update(ticket, *, by, channel, **fields)`` the generic workspace and cross-cutting
    apps call (SLA escalation reassigns through it).
    """

    kind: str
    prefix: str
    label: str
    label_plural: str
    model_path: str
    machine: StateMachine
    # None while a practice has no agent screens yet (API only): the navigation, jump
    # box and ticket redirect leave it out.
    namespace: str | None
    services: str
    api_register: str | None = None
    demo: str | None = None
    # Order in the navigation and "New ..." menu; lower first.
    order: int = 100
    # Fields beyond the ticket core that the agent may change in the API/UI.
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @cached_property
    def model(self) -> type:
        from django.apps import apps

        return apps.get_model(self.model_path)

    @cached_property
    def service(self) -> Any:
        return import_string(self.services) if "." in self.services else None

    def load(self, dotted: str | None) -> Any:
        return import_string(dotted) if dotted else None

    @property
    def queue_route(self) -> str:
        return f"{self.namespace}:queue"

    @property
    def detail_route(self) -> str:
        return f"{self.namespace}:detail"

    @property
    def create_route(self) -> str:
        return f"{self.namespace}:create"

    def phase(self, state: str) -> Phase:
        return self.machine.state(state).phase


_practices: dict[str, Practice] = {}


def register(practice: Practice) -> Practice:
    """Add ``practice``; registering the same kind again replaces it (tests reload apps)."""
    for other in _practices.values():
        if other.kind != practice.kind and other.prefix == practice.prefix:
            raise ValueError(f"Prefix {practice.prefix} is already {other.kind}'s.")
    _practices[practice.kind] = practice
    return practice


def unregister(kind: str) -> None:
    """Remove a practice (tests that register a throwaway kind clean up with this)."""
    _practices.pop(kind, None)


def practices() -> list[Practice]:
    """Every registered practice, in navigation order."""
    return sorted(_practices.values(), key=lambda p: (p.order, p.kind))


def with_screens() -> list[Practice]:
    """The practices that have agent screens (a URL namespace), in navigation order."""
    return [p for p in practices() if p.namespace]


def kinds() -> list[str]:
    return [p.kind for p in practices()]


def by_kind(kind: str) -> Practice | None:
    return _practices.get(kind)


def by_prefix(prefix: str) -> Practice | None:
    prefix = prefix.upper()
    return next((p for p in _practices.values() if p.prefix == prefix), None)


def by_number(number: str) -> Practice | None:
    """The practice whose prefix ``number`` starts with (``PRB0001001`` → problems)."""
    number = number.strip().upper()
    return next((p for p in _practices.values() if number.startswith(p.prefix)), None)


def phase_of(kind: str, state: str) -> Phase:
    """The phase of ``state`` in ``kind``'s lifecycle; an unknown one counts as open."""
    practice = _practices.get(kind)
    if practice is None:
        return Phase.OPEN
    try:
        return practice.phase(state)
    except KeyError:
        return Phase.OPEN


_demo_loaders: dict[str, int] = {}


def register_demo(dotted: str, order: int) -> None:
    """A non-practice app's part of ``mainspring demo`` (SLA definitions, articles...).

    A loader is called as ``loader(people=..., rng=..., **options)`` and may return a
    few words for the summary. Practices declare theirs as ``Practice.demo``; they run
    at ``50 + Practice.order``, so an app's setup (order < 50) comes before the tickets
    and its follow-up (> 200) after them.
    """
    _demo_loaders[dotted] = order


def demo_loaders() -> list[Callable[..., Any]]:
    """Every demo loader, in order."""
    entries = dict(_demo_loaders)
    for practice in practices():
        if practice.demo:
            entries[practice.demo] = 50 + practice.order
    return [import_string(path) for path, _ in sorted(entries.items(), key=lambda e: e[1])]


def each(hook: Callable[[Practice], Any]) -> list[Any]:
    """``hook(practice)`` for every practice, in order (demo loaders, API routes)."""
    return [hook(p) for p in practices()]
