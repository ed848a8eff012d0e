"""The daily job that keeps SQLite's full-text index compact."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from mainspring.core.periodic import registry
from mainspring.knowledge import search
from mainspring.knowledge.tasks import optimize_search_index


def _segments() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM knowledge_article_fts_data")
        return cursor.fetchone()[0]


def test_runs_daily_on_the_workers():
    job = registry[optimize_search_index.name]
    assert job.every == timedelta(days=1)


def test_optimize_merges_segments_and_search_still_finds(publish_article, requester, run_tasks):
    if connection.vendor != "sqlite":
        search.optimize_index()  # PostgreSQL: nothing to merge, and no error
        return
    for i in range(12):
        publish_article(title=f"Printer {i} offline", body="Restart the spooler.")
    before = _segments()
    optimize_search_index.enqueue()
    run_tasks()
    assert _segments() < before
    hits = search.search_articles(requester, "printer offline", limit=20)
    assert len(hits) == 12


@pytest.mark.django_db
def test_optimize_on_an_empty_index():
    search.optimize_index()
