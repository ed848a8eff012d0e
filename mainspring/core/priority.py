"""How a priority reads, the same for every practice."""

from __future__ import annotations

__all__ = ["PRIORITY_LABELS", "priority_label"]

PRIORITY_LABELS = {1: "Critical", 2: "High", 3: "Moderate", 4: "Low", 5: "Planning"}


def priority_label(priority: int) -> str:
    return f"P{priority} {PRIORITY_LABELS.get(priority, '')}".strip()
