import pytest

from mainspring.knowledge import services
from mainspring.knowledge.models import ArticleFeedback, ArticleView, Audience, Deflection

pytestmark = pytest.mark.django_db


def test_requester_cannot_read_draft_by_guessing(client, agent, requester, api_for):
    draft = services.create_article(by=agent, title="Secret")
    client.force_login(requester)
    assert client.get(f"/portal/knowledge/{draft.number}/").status_code == 404
    assert api_for(requester).get(f"/api/v1/articles/{draft.number}/").status_code == 404
    assert api_for(requester).get("/api/v1/articles/KB9999999/").status_code == 404


def test_agents_only_article_is_404_for_requester(client, publish_article, requester):
    article = publish_article(title="Runbook", audience=Audience.AGENTS)
    client.force_login(requester)
    assert client.get(f"/portal/knowledge/{article.number}/").status_code == 404
    response = client.get("/portal/knowledge/suggest/?title=Runbook")
    assert "Runbook" not in response.content.decode()


def test_portal_article_view_feedback_and_deflection(client, publish_article, requester):
    article = publish_article(title="VPN setup", body="Install **the** client")
    client.force_login(requester)
    page = client.get(f"/portal/knowledge/{article.number}/?from=deflection")
    assert page.status_code == 200 and "<strong>the</strong>" in page.content.decode()
    assert ArticleView.objects.filter(article=article).count() == 1
    assert Deflection.objects.filter(article=article, user=requester).count() == 1
    response = client.post(
        f"/portal/knowledge/{article.number}/feedback/", {"helpful": "yes", "comment": "great"}
    )
    assert response.status_code == 302
    assert ArticleFeedback.objects.get(article=article).helpful is True
    bad = client.post(f"/portal/knowledge/{article.number}/feedback/", {"helpful": "maybe"})
    assert bad.status_code == 400


def test_suggestions_and_portal_home(
    client, publish_article, requester, django_assert_max_num_queries
):
    publish_article(title="VPN connection drops", body="Reinstall")
    client.force_login(requester)
    response = client.get("/portal/knowledge/suggest/?title=vpn")
    assert "VPN connection drops" in response.content.decode()
    assert "?from=deflection" in response.content.decode()
    assert client.get("/portal/knowledge/suggest/?title=vp").content.strip() == b""
    with django_assert_max_num_queries(12):
        home = client.get("/portal/knowledge/?q=vpn")
    assert "<mark>" in home.content.decode() or "VPN connection drops" in home.content.decode()


def test_agent_pages(client, agent, reviewer, requester):
    from tests.factories import make_incident

    client.force_login(agent)
    response = client.post(
        "/knowledge/new/",
        {"title": "Laptop setup", "body": "Steps", "kind": "how_to", "audience": "everyone"},
    )
    assert response.status_code == 302
    number = response["Location"].rstrip("/").split("/")[-1]
    assert client.get(f"/knowledge/{number}/").status_code == 200
    assert client.post("/knowledge/new/", {"title": "", "kind": "x"}).status_code == 400
    assert client.post(f"/knowledge/{number}/submit/").status_code == 302
    client.force_login(reviewer)
    assert client.get("/knowledge/review/").status_code == 200
    client.post(f"/knowledge/{number}/publish/")
    assert client.get(f"/knowledge/{number}/history/?rev=1").status_code == 200
    incident = make_incident(by=requester, title="Laptop setup")
    panel = client.get(f"/knowledge/incident/{incident.number}/search/")
    assert number in panel.content.decode()
    assert client.get(f"/incidents/{incident.number}/").status_code == 200
    client.post(f"/knowledge/incident/{incident.number}/resolved-by/{number}/")
    assert number in client.get("/knowledge/report/").content.decode()
    client.force_login(requester)
    assert client.get("/knowledge/").status_code == 404


def test_api_crud_and_workflow(api_for, agent, reviewer, requester):
    api = api_for(agent)
    response = api.post(
        "/api/v1/articles/",
        {"title": "Email on phone", "body": "Use <b>the app</b>", "tags": ["Mail", "phone"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    number = data["number"]
    assert data["state"] == "draft" and data["tags"] == ["mail", "phone"]
    assert "<b>" not in data["body_html"]
    bad = api.post("/api/v1/articles/", {"title": "", "state": "published"}, format="json")
    assert bad.status_code == 400 and "state" in bad.json()["error"]["fields"]
    stale = api.patch(f"/api/v1/articles/{number}/", {"title": "x", "version": 99}, format="json")
    assert stale.status_code == 412
    assert api.post(f"/api/v1/articles/{number}/publish/").status_code == 403
    assert api.post(f"/api/v1/articles/{number}/submit/").status_code == 200
    rapi = api_for(reviewer)
    assert rapi.post(f"/api/v1/articles/{number}/send_back/", {}, format="json").status_code == 400
    assert rapi.post(f"/api/v1/articles/{number}/publish/").status_code == 200
    assert rapi.post(f"/api/v1/articles/{number}/publish/").status_code == 409
    versions = api.get(f"/api/v1/articles/{number}/versions/").json()["results"]
    assert [v["number"] for v in versions] == [1]
    req = api_for(requester)
    fb = req.post(f"/api/v1/articles/{number}/feedback/", {"helpful": True}, format="json")
    assert fb.status_code == 201
    results = req.get("/api/v1/search/?q=phone").json()["results"]
    assert results[0]["number"] == number and results[0]["kind"] == "article"
    assert results[0]["web_url"].endswith(f"/portal/knowledge/{number}/")
    assert req.get("/api/v1/search/?q=").status_code == 400
    assert req.get("/api/v1/search/?q=x&evil=1").status_code == 400
    assert [a["number"] for a in req.get("/api/v1/articles/").json()["results"]] == [number]


def test_search_api_incidents_for_agents_only(api_for, agent, requester, other_requester):
    from tests.factories import make_incident

    theirs = make_incident(by=other_requester, title="Scanner offline")
    agent_hits = api_for(agent).get("/api/v1/search/?q=scanner").json()["results"]
    assert [h["number"] for h in agent_hits] == [theirs.number]
    assert api_for(requester).get("/api/v1/search/?q=scanner").json()["results"] == []
