"""What the per-kind suites need to know about each practice, and nothing more.

Every registered practice (``core.registry``) must have a case here: the suites in this
package are written once and run for each kind, as NetBox's generic view test cases are.
A new practice adds its case (a few lines) and gets the API, lifecycle, permission and
query-count suites by registering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PracticeCase:
    kind: str
    api: str  # the collection's path, e.g. "/api/v1/incidents/"
    # A transition path from the initial state to a resolved-phase state and on to a
    # closed one: (name, body) pairs, run in order by an agent.
    to_resolved: tuple[tuple[str, dict[str, Any]], ...]
    to_closed: tuple[tuple[str, dict[str, Any]], ...]
    # A transition the initial state does not allow.
    illegal_first: str
    # The cancel transition (any open state).
    cancel: str = "cancel"
    # Extra create fields only agents may send (a requester sending one gets 400).
    agent_only_field: tuple[str, Any] = ("impact", "high")
    # Whether a ticket has a caller an agent names on create (a problem's requester is
    # the agent who raised it), and whether requesters may create one at all.
    has_requester: bool = True
    requesters_create: bool = True

    def on_behalf_of(self, user) -> dict[str, Any]:
        return {"requester": user.username} if self.has_requester else {}


CASES: dict[str, PracticeCase] = {
    "incident": PracticeCase(
        kind="incident",
        api="/api/v1/incidents/",
        to_resolved=(
            ("start", {}),
            ("resolve", {"resolution_code": "solved", "resolution_notes": "Replaced the cable."}),
        ),
        to_closed=(("close", {}),),
        illegal_first="close",
        agent_only_field=("major_incident", True),
    ),
    "problem": PracticeCase(
        kind="problem",
        api="/api/v1/problems/",
        to_resolved=(
            ("assess", {}),
            ("analyse", {}),
            ("fix", {}),
            (
                "resolve",
                {"resolution_code": "fix_applied", "resolution_notes": "Patched the firmware."},
            ),
        ),
        to_closed=(("close", {}),),
        illegal_first="fix",
        agent_only_field=("root_cause", "A guess"),
        has_requester=False,
        requesters_create=False,
    ),
}
