"""The queue's and the API's text filter is full-text search (same cases on both databases)."""

from __future__ import annotations

import pytest

from tests.factories import make_incident


@pytest.fixture
def corpus(agent):
    return {
        "printer": make_incident(
            by=agent, title="Printer on floor 2 jams", description="Paper stuck in tray 3."
        ),
        "vpn": make_incident(
            by=agent, title="Cannot reach the VPN", description="Connecting times out."
        ),
        "mail": make_incident(
            by=agent, title="Mailbox full", description="Outlook says the printer queue is odd."
        ),
        "wiki": make_incident(by=agent, title="Wiki is down 50%_"),
    }


def _queue(client, q: str) -> set[str]:
    response = client.get("/incidents/", {"q": q})
    assert response.status_code == 200
    return {row.number for row in response.context["rows"]}


def _api(api, q: str) -> set[str]:
    response = api.get("/api/v1/incidents/", {"q": q})
    assert response.status_code == 200, response.json()
    return {row["number"] for row in response.json()["results"]}


@pytest.mark.parametrize("where", ["queue", "api"])
def test_stemmed_words_in_title_or_description(corpus, client, agent, api_for, where):
    client.force_login(agent)
    api = api_for(agent)

    def find(q: str) -> set[str]:
        return _queue(client, q) if where == "queue" else _api(api, q)

    c = {k: v.number for k, v in corpus.items()}
    assert find("printers") == {c["printer"], c["mail"]}  # title and description, stemmed
    assert find("connection") == {c["vpn"]}  # "connecting" in the description
    assert find("printer jams") == {c["printer"]}  # every word must match
    assert find('"printer queue"') == {c["mail"]}  # a phrase keeps its order
    assert find('"queue printer"') == set()
    assert find("mailb*") == {c["mail"]}  # an explicit prefix
    assert find(c["vpn"]) == {c["vpn"]}  # a number is exact
    assert find("!!! ???") == set()  # no words: nothing, not everything, not an error
    # Only stop words (PostgreSQL's English list has both): the title as typed.
    assert find("is down") == {c["wiki"]}
    assert find("down 50%_") == {c["wiki"]}
    assert find("<script>alert(1)</script> OR 1=1") == set()
