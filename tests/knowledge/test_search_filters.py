"""Search filters by type, category and tag: agent list, portal and API."""

from __future__ import annotations

import pytest

from tests.factories import CategoryFactory


@pytest.fixture
def articles(publish_article):
    hardware = CategoryFactory(name="Hardware")
    printers = CategoryFactory(name="Printers", parent=hardware)
    return {
        "howto": publish_article(
            title="Printer setup", kind="how_to", category=printers, tags="setup office"
        ),
        "fault": publish_article(title="Printer jams", kind="troubleshooting", tags="paper office"),
        "faq": publish_article(title="Printer FAQ", kind="faq", category=hardware, tags="faq"),
        "hardware": hardware,
    }


def _numbers(response) -> set[str]:
    assert response.status_code == 200
    return {hit.number for hit in response.context["hits"]}


@pytest.mark.parametrize("page", ["/knowledge/", "/portal/knowledge/"])
def test_pages_filter_by_type_category_and_tag(articles, client, agent, requester, page):
    client.force_login(agent if page == "/knowledge/" else requester)
    a = {k: v.number for k, v in articles.items() if k != "hardware"}
    assert _numbers(client.get(page, {"q": "printer"})) == set(a.values())
    assert _numbers(client.get(page, {"q": "printer", "f-type": "faq"})) == {a["faq"]}
    hardware = articles["hardware"].pk
    # A category covers its subcategories.
    assert _numbers(client.get(page, {"q": "printer", "f-category": hardware})) == {
        a["howto"],
        a["faq"],
    }
    assert _numbers(client.get(page, {"q": "printer", "f-tag": "office"})) == {
        a["howto"],
        a["fault"],
    }
    both = {"q": "printer", "f-tag": "office", "f-type": "how_to"}
    assert _numbers(client.get(page, both)) == {a["howto"]}


def test_a_bad_filter_is_reported_and_left_out(articles, client, requester):
    client.force_login(requester)
    response = client.get(
        "/portal/knowledge/", {"q": "printer", "f-type": "<script>", "f-tag": "a b;c"}
    )
    assert len(_numbers(response)) == 3
    page = response.content.decode()
    assert "One tag: letters, digits, - or _." in page
    assert "<script>" not in page


def test_api_search_filters(articles, api_for, agent):
    api = api_for(agent)
    found = api.get("/api/v1/search/", {"q": "printer", "type": "troubleshooting"})
    assert [r["number"] for r in found.json()["results"]] == [articles["fault"].number]
    bad = api.get("/api/v1/search/", {"q": "printer", "type": "novel", "category": "x"})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"type", "category"}
    mixed = api.get("/api/v1/search/", {"q": "printer", "kind": "incident", "tag": "office"})
    assert mixed.status_code == 400 and "kind" in mixed.json()["error"]["fields"]
