"""A page of any kind's API list costs the same queries for 2 rows or 12 (no N+1)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def _make(client, case, agent, requester, group, n: int) -> None:
    for i in range(n):
        response = client.post(
            case.api,
            {
                "title": f"{case.kind} {i}",
                **case.on_behalf_of(requester),
                "assignment_group": group.pk,
                "assignee": agent.username,
            },
            format="json",
        )
        assert response.status_code == 201, response.content[:500]


def _count(client, path: str) -> int:
    client.get(path)  # warm: the token's last_used_at write happens once a minute
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_list_and_detail_query_counts_are_constant(api_for, agent, requester, service_desk, case):
    client = api_for(agent)
    _make(client, case, agent, requester, service_desk, 2)
    few = _count(client, case.api)
    _make(client, case, agent, requester, service_desk, 10)
    many = _count(client, case.api)
    assert few == many
    assert many <= 6, "a list page should be a handful of queries"
    number = client.get(case.api).json()["results"][0]["number"]
    assert _count(client, f"{case.api}{number}/") <= 6
