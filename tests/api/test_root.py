"""/api/v1/ lists every collection and entry point; the docs page asks a browser to sign in."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from mainspring.api_urls import router

pytestmark = pytest.mark.django_db


def test_the_api_root_lists_every_collection_for_anyone(api_for, admin):
    response = APIClient().get("/api/v1/")
    assert response.status_code == 200
    links = response.json()
    # Every router collection, whoever registered it, and the paths outside the router.
    for prefix, _viewset, _basename in router.registry:
        assert links[prefix] == f"http://testserver/api/v1/{prefix}/"
    assert links["auth-token"] == "http://testserver/api/v1/auth/token/"
    assert links["search"] == "http://testserver/api/v1/search/"
    assert links["sla-report"] == "http://testserver/api/v1/sla-report/"
    assert links["schema"] == "http://testserver/api/schema/"
    assert links["docs"] == "http://testserver/api/docs/"
    # Every link leads somewhere real (for an admin, who may read every collection).
    api = api_for(admin)
    for prefix, _viewset, _basename in router.registry:
        assert api.get(f"/api/v1/{prefix}/").status_code == 200, prefix
    for name in ("search", "sla-report", "schema"):
        answer = api.get(links[name].removeprefix("http://testserver"))
        assert answer.status_code not in (404, 405) and answer.status_code < 500, name


def test_the_api_root_ignores_tokens(db):
    # Public, so a stale token in a script's config does not hide the map.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer ms_revoked_long_ago")
    assert client.get("/api/v1/").status_code == 200


def test_anonymous_api_docs_send_a_browser_to_sign_in(client, agent):
    response = client.get("/api/docs/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/api/docs/"
    client.force_login(agent)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert b"swagger" in page.content.lower()


def test_the_schema_itself_still_needs_a_sign_in(client):
    response = client.get("/api/schema/")
    assert response.status_code in (401, 403)
