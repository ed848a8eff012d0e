"""OpenAPI schema and docs; users, groups, categories and resolution codes."""

from __future__ import annotations

import io

import yaml
from django.core.management import call_command

from ..factories import CategoryFactory
from .helpers import assert_error


def test_schema_generates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    # --fail-on-warn turns any drf-spectacular warning into a failure.
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(out), stderr=io.StringIO()
    )
    schema = yaml.safe_load(out.read_text())
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in (
        "/api/v1/incidents/",
        "/api/v1/incidents/{number}/resolve/",
        "/api/v1/incidents/{number}/journal/",
        "/api/v1/auth/token/",
    ):
        assert path in paths


def test_schema_endpoint_for_an_authenticated_user(api_for, agent):
    r = api_for(agent).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200
    schema = r.json()
    assert schema["openapi"].startswith("3.")
    params = {p["name"] for p in schema["paths"]["/api/v1/incidents/"]["get"]["parameters"]}
    assert {"state", "priority", "q", "ordering", "cursor", "created_after"} <= params
    assert "bearerAuth" in schema["components"]["securitySchemes"]


def test_schema_and_docs_refuse_anonymous(client, db):
    assert_error(
        client.get("/api/schema/", HTTP_ACCEPT="application/json"), 401, "not_authenticated"
    )
    # The default (YAML) rendering carries the same error object.
    r = client.get("/api/schema/")
    assert r.status_code == 401
    assert yaml.safe_load(r.content)["error"]["code"] == "not_authenticated"
    # The docs page is for browsers: sign in first, then come back.
    r = client.get("/api/docs/")
    assert r.status_code == 302 and r["Location"] == "/login/?next=/api/docs/"


def test_docs_page_uses_no_cdn(api_for, agent, client):
    client.force_login(agent)
    r = client.get("/api/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "swagger-ui" in html and "cdn." not in html and "unpkg" not in html


def test_users_agents_see_all_requesters_only_themselves(
    api_for, agent, requester, other_requester
):
    names = [u["username"] for u in api_for(agent).get("/api/v1/users/").json()["results"]]
    assert {"agent", "alice", "bob"} <= set(names)
    mine = api_for(requester).get("/api/v1/users/").json()["results"]
    assert [u["username"] for u in mine] == ["alice"]
    assert_error(api_for(requester).get("/api/v1/users/bob/"), 404)
    me = api_for(requester).get("/api/v1/users/me/").json()
    assert me["username"] == "alice" and me["role"] == "requester"
    assert "password" not in me
    assert_error(api_for(agent).get("/api/v1/users/?role=wizard"), 400)
    assert_error(api_for(agent).get("/api/v1/users/?password=x"), 400)
    agents = api_for(agent).get("/api/v1/users/?role=agent").json()["results"]
    assert [u["username"] for u in agents] == ["agent"]
    requester.is_active = False
    requester.save()
    inactive = api_for(agent).get("/api/v1/users/?is_active=false").json()["results"]
    assert [u["username"] for u in inactive] == ["alice"]


def test_groups_show_members(api_for, requester, agent, manager, service_desk):
    rows = api_for(requester).get("/api/v1/groups/").json()["results"]
    desk = next(g for g in rows if g["id"] == service_desk.pk)
    assert desk["members"] == ["agent", "manager"] and desk["managers"] == ["manager"]


def test_categories_and_resolution_codes(api_for, requester):
    hardware = CategoryFactory(name="Hardware")
    CategoryFactory(name="Laptop", parent=hardware)
    client = api_for(requester)
    cats = client.get("/api/v1/categories/").json()["results"]
    laptop = next(c for c in cats if c["name"] == "Laptop")
    assert laptop["parent"] == hardware.pk and laptop["full_name"] == "Hardware / Laptop"
    codes = {c["code"] for c in client.get("/api/v1/resolution-codes/").json()["results"]}
    assert {"solved", "workaround"} <= codes
    assert client.get("/api/v1/resolution-codes/solved/").json()["code"] == "solved"


def test_users_are_read_only_over_the_api(api_for, admin):
    # People come from the admin site or the directory, not from API clients.
    r = api_for(admin).post("/api/v1/users/", {"username": "x"}, format="json")
    assert_error(r, 405, "method_not_allowed")
