"""Every error answers {"error": {"code", "message", "fields"}}; no input is a 500."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from mainspring.identity.models import ApiToken

from ..conftest import token_for
from ..factories import make_incident
from .helpers import assert_error, url


def test_bad_json_is_400(api_for, agent):
    r = api_for(agent).generic("POST", url(), '{"title": ', content_type="application/json")
    assert_error(r, 400, "invalid")


@pytest.mark.parametrize("body", ['["a list"]', '"a string"', "42", "null"])
def test_json_that_is_not_an_object_is_400(api_for, agent, body):
    r = api_for(agent).generic("POST", url(), body, content_type="application/json")
    assert_error(r, 400, "invalid")


def test_text_plain_is_415(api_for, agent):
    r = api_for(agent).generic("POST", url(), '{"title": "x"}', content_type="text/plain")
    assert_error(r, 415, "unsupported_media_type")


def test_unknown_field_for_requester_is_400(api_for, requester):
    r = api_for(requester).post(url(), {"title": "x", "priority": 1, "sla": "gold"}, format="json")
    error = assert_error(r, 400, "invalid")
    assert {"priority", "sla"} <= set(error["fields"])


def test_no_token_is_401(client):
    r = client.get(url())
    assert_error(r, 401, "not_authenticated")
    assert r["WWW-Authenticate"] == "Bearer"


def test_garbage_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer nope")
    assert_error(client.get(url()), 401)
    client.credentials(HTTP_AUTHORIZATION="Bearer a b")
    assert_error(client.get(url()), 401)


def test_revoked_token_is_401(requester):
    raw = token_for(requester)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(url()).status_code == 200
    ApiToken.objects.filter(user=requester).update(revoked_at="2020-01-01T00:00:00Z")
    assert_error(client.get(url()), 401, "not_authenticated")


def test_disabled_user_is_401_at_once(requester):
    raw = token_for(requester)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(url()).status_code == 200
    requester.is_active = False
    requester.save()
    assert_error(client.get(url()), 401, "not_authenticated")


def test_session_of_disabled_user_is_refused(client, requester):
    client.force_login(requester)
    assert client.get(url()).status_code == 200
    requester.is_active = False
    requester.save()
    assert client.get(url()).status_code in (401, 403)


def test_session_writes_need_csrf(requester):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(requester)
    r = client.post(url(), {"title": "x"}, format="json")
    assert_error(r, 403, "forbidden")


def test_unknown_route_under_api_is_json_404(api_for, agent):
    r = api_for(agent).get("/api/v1/nothing-here/")
    assert_error(r, 404)


def test_error_paths_have_the_shape(api_for, agent, requester, other_requester, settings):
    incident = make_incident(by=requester)
    client = api_for(agent)
    assert_error(api_for(other_requester).get(url(incident.number)), 404, "not_found")
    assert_error(client.delete(url(incident.number)), 405, "method_not_allowed")
    assert_error(client.post(url(incident.number, "close")), 409, "invalid_transition")
    assert_error(
        client.patch(url(incident.number), {"title": "x"}, format="json", HTTP_IF_MATCH='"999"'),
        412,
        "stale_version",
    )


def test_huge_body_is_refused_early(api_for, requester, settings):
    settings.ATTACHMENT_MAX_BYTES = 10
    incident = make_incident(by=requester)
    r = api_for(requester).generic(
        "POST",
        url(incident.number, "attachments"),
        b"x" * (2 * 1024 * 1024),
        content_type="application/octet-stream",
    )
    assert_error(r, 413, "too_large")
