"""Knowledge background work: keeping SQLite's full-text index compact."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from mainspring.core.periodic import periodic

from . import search


@periodic(every=timedelta(days=1))
@task()
def optimize_search_index() -> None:
    """Merge the SQLite full-text index's segments (a no-op on PostgreSQL)."""
    search.optimize_index()
