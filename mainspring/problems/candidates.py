"""Problem candidates: recent incidents that look alike and have no problem yet.

A service desk sees the same failure arrive as many incidents; problem management
starts when someone notices. This finds the groups for them: incidents of the last
``days`` (30) in the same category whose titles share two words as the search index
stems them (``knowledge.search.title_terms``: "VPN drops" and "vpn dropping again"
share ``vpn`` and ``drop``), at least ``min_size`` (3) of them, none linked to a problem.
Each incident is counted in one group, the largest it belongs to; the largest groups
come first.

Cost: one index range on ``core_ticket`` (created in the window) joined to the incident
rows, one read of the titles' terms, and a pass in Python over the word pairs of each
title (a title has a handful of words, so a few pairs): linear in the incidents of the
window. See docs/performance.md for the figure at 1M incidents.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from itertools import combinations

from django.utils import timezone

from mainspring.identity.policy import visible_tickets
from mainspring.incidents.models import Category, Incident
from mainspring.knowledge.search import title_terms

__all__ = ["Candidate", "find_candidates"]

# Words of a title that are paired: the first few carry what the ticket is about.
WORDS_PER_TITLE = 8
MAX_GROUPS = 50
MAX_WINDOW_INCIDENTS = 100_000


@dataclass
class Candidate:
    """A group of similar incidents that no problem explains yet."""

    category: Category | None
    words: tuple[str, ...]
    incidents: list[Incident]

    @property
    def size(self) -> int:
        return len(self.incidents)


def find_candidates(user, *, days: int = 30, min_size: int = 3, now=None) -> list[Candidate]:
    """The groups ``user`` may see, most incidents first (at most ``MAX_GROUPS``)."""
    now = now or timezone.now()
    window = (
        visible_tickets(user, Incident.objects.all())
        .filter(
            kind="incident",
            created_at__gte=now - timedelta(days=days),
            caused_by__isnull=True,
            category__isnull=False,
        )
        .order_by("-created_at", "-id")
        .values_list("id", "category_id")[:MAX_WINDOW_INCIDENTS]
    )
    category_of = dict(window)
    words = title_terms(list(category_of))
    pairs: dict[tuple[int, str, str], list[int]] = defaultdict(list)
    for ticket_id, terms in words.items():
        distinct = sorted(dict.fromkeys(terms[:WORDS_PER_TITLE]))
        keys = list(combinations(distinct, 2)) or [(w, w) for w in distinct]
        for a, b in keys:
            pairs[(category_of[ticket_id], a, b)].append(ticket_id)
    used: set[int] = set()
    groups: list[tuple[tuple[int, str, str], list[int]]] = []
    # Largest first, each incident once: a smaller group loses the incidents a larger
    # one took and survives only if it still has min_size.
    for key, ids in sorted(pairs.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        if len(ids) < min_size:
            break
        members = [i for i in ids if i not in used]
        if len(members) >= min_size:
            used.update(members)
            groups.append((key, members))
    groups.sort(key=lambda g: (-len(g[1]), g[0]))
    groups = groups[:MAX_GROUPS]
    shown = {i for _, ids in groups for i in ids}
    incidents = Incident.objects.filter(pk__in=shown).only(
        "id", "number", "title", "state", "created_at", "category_id"
    )
    by_id = {i.pk: i for i in incidents}
    categories = Category.objects.in_bulk({key[0] for key, _ in groups})
    return [
        Candidate(
            category=categories.get(key[0]),
            words=tuple(dict.fromkeys(key[1:])),
            incidents=sorted((by_id[i] for i in ids if i in by_id), key=lambda i: -i.pk),
        )
        for key, ids in groups
    ]
