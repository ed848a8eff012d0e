"""Query counts stay fixed whatever the number of rows (no N+1, no COUNT)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mainspring.core import services as core
from mainspring.core.services import add_watcher

from ..factories import CategoryFactory, make_incident
from .helpers import url


def _many(agent, requester, group, n: int):
    category = CategoryFactory(name="Hardware")
    parent = make_incident(by=agent, requester=requester, title="Parent")
    for i in range(n):
        incident = make_incident(
            by=agent,
            requester=requester,
            title=f"Ticket {i}",
            assignment_group=group,
            assignee=agent,
            category=category,
            parent=parent,
        )
        core.add_journal_entry(incident, by=agent, kind="comment", body=f"c{i}")
        core.add_journal_entry(incident, by=agent, kind="work_note", body=f"n{i}")
    return parent


def _count(client, path: str) -> int:
    client.get(path)  # warm: the token's last_used_at write happens once a minute
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("who", ["agent", "requester"])
def test_list_query_count_is_constant(api_for, agent, requester, service_desk, who):
    user = agent if who == "agent" else requester
    client = api_for(user)
    filtered = url() + "?ordering=-priority&state=new&q=ticket"
    _many(agent, requester, service_desk, 2)
    few, few_filtered = _count(client, url()), _count(client, filtered)
    _many(agent, requester, service_desk, 12)
    many, many_filtered = _count(client, url()), _count(client, filtered)
    # token lookup, the page, and one prefetch each for the category and the parent set
    # on these rows: fixed whatever the number of rows. Text search may add one
    # (PostgreSQL checks that the words are not all stop words).
    assert few == many <= 4
    assert few_filtered == many_filtered <= 5
    with CaptureQueriesContext(connection) as ctx:
        client.get(url())
    assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)


def test_detail_journal_audit_counts(
    api_for, agent, requester, service_desk, django_assert_max_num_queries
):
    client = api_for(agent)
    parent = _many(agent, requester, service_desk, 1)
    for i in range(15):
        core.add_journal_entry(parent, by=agent, kind="comment", body=f"more {i}")
        add_watcher(parent, by=agent)
    counts = {
        name: _count(client, url(parent.number, name) if name else url(parent.number))
        for name in ("", "journal", "audit", "attachments", "watchers", "links")
    }
    assert counts[""] <= 2, counts
    assert all(counts[k] <= 3 for k in counts), counts


def test_config_lists_are_constant(api_for, agent, service_desk):
    client = api_for(agent)
    few = {p: _count(client, p) for p in ("/api/v1/users/", "/api/v1/groups/")}
    for i in range(10):
        from ..factories import GroupFactory, UserFactory, add_member

        add_member(GroupFactory(name=f"G{i}"), UserFactory(username=f"u{i}", role="agent"))
    many = {p: _count(client, p) for p in ("/api/v1/users/", "/api/v1/groups/")}
    assert few == many, (few, many)
