"""Reference data every installation starts with (loaded by migration 0002)."""

from __future__ import annotations

RESOLUTION_CODES = [
    ("solved", "Solved (permanently)"),
    ("workaround", "Solved (workaround)"),
    ("not_reproducible", "Not reproducible"),
    ("duplicate", "Duplicate"),
    ("user_instructed", "User instructed"),
    ("no_fault_found", "No fault found"),
]

# ITIL's usual impact × urgency matrix; admins may change the cells.
PRIORITY_MATRIX = [
    ("high", "high", 1),
    ("high", "medium", 2),
    ("medium", "high", 2),
    ("high", "low", 3),
    ("medium", "medium", 3),
    ("low", "high", 3),
    ("medium", "low", 4),
    ("low", "medium", 4),
    ("low", "low", 5),
]


def ensure_reference_data(resolution_code_model, priority_rule_model) -> None:
    """Create what is missing; takes the models so migrations can pass historical ones."""
    for code, label in RESOLUTION_CODES:
        resolution_code_model.objects.get_or_create(code=code, defaults={"label": label})
    for impact, urgency, priority in PRIORITY_MATRIX:
        priority_rule_model.objects.get_or_create(
            impact=impact, urgency=urgency, defaults={"priority": priority}
        )
