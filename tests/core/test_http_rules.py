"""Chunked bodies (411), Cache-Control on private responses, HSTS on HTTPS."""

from __future__ import annotations

import pytest

from ..factories import make_incident

pytestmark = pytest.mark.django_db


def _chunked(client, path, **extra):
    # An empty body makes the test client send no Content-Length, which is what gunicorn
    # hands Django for a chunked request: Transfer-Encoding and nothing to measure.
    return client.generic("POST", path, b"", HTTP_TRANSFER_ENCODING="chunked", **extra)


def test_chunked_api_upload_is_411_not_an_empty_body(api_for, agent):
    incident = make_incident(by=agent)
    response = _chunked(
        api_for(agent),
        f"/api/v1/incidents/{incident.number}/attachments/",
        content_type="multipart/form-data; boundary=x",
    )
    assert response.status_code == 411
    error = response.json()["error"]
    assert error["code"] == "length_required"
    assert "Content-Length" in error["message"]
    assert error["fields"] == {}


@pytest.mark.parametrize("htmx", [False, True])
def test_chunked_form_post_is_a_411_page(client, agent, htmx):
    client.force_login(agent)
    headers = {"HX-Request": "true"} if htmx else {}
    response = _chunked(
        client,
        "/incidents/INC0001001/attach/",
        content_type="multipart/form-data; boundary=x",
        headers=headers,
    )
    assert response.status_code == 411
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert 'role="alert"' in body and "Content-Length" in body
    assert ("<html" in body) is not htmx


def test_a_body_with_its_length_is_not_affected(api_for, agent):
    response = api_for(agent).post(
        "/api/v1/incidents/", {"title": "Printer on fire"}, format="json"
    )
    assert response.status_code == 201


def test_a_text_body_over_the_memory_limit_is_413_with_the_limit(api_for, agent, client):
    """Above DATA_UPLOAD_MAX_MEMORY_SIZE Django will not read the body: that is 413
    "too large" (JSON for the API, a page for a form), not 400 "not understood"."""
    big = "y" * (3 * 1024 * 1024)
    response = api_for(agent).post(
        "/api/v1/incidents/", {"title": "x", "description": big}, format="json"
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_large"
    assert "2 MB limit for text" in error["message"] and "Nothing was saved" in error["message"]
    client.force_login(agent)
    page = client.post("/portal/report/", {"title": "x", "description": big})
    assert page.status_code == 413
    assert "2 MB limit for text" in page.content.decode()


def test_private_responses_are_not_stored(client, api_for, agent):
    api = api_for(agent)
    assert api.get("/api/v1/incidents/")["Cache-Control"] == "no-store"
    assert api.get("/api/v1/no-such-thing/")["Cache-Control"] == "no-store"
    client.force_login(agent)
    for path in ("/incidents/", "/portal/", "/account/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "no-store" in response["Cache-Control"], path
    # The sign-in page carries a CSRF token; the probes are answered fresh too.
    client.logout()
    assert "no-store" in client.get("/login/")["Cache-Control"]
    assert client.get("/healthz")["Cache-Control"] == "no-store"


def test_static_files_keep_their_caching(client):
    response = client.get("/static/mainspring/app.css")
    assert response.status_code == 200
    cache_control = response["Cache-Control"]
    assert "max-age" in cache_control and "no-store" not in cache_control


def test_a_views_own_cache_control_is_kept(client, agent):
    from django.core.files.base import ContentFile

    from mainspring.core.services import add_attachment

    incident = make_incident(by=agent)
    attachment = add_attachment(incident, by=agent, upload=ContentFile(b"hello", name="note.txt"))
    client.force_login(agent)
    response = client.get(f"/attachments/{attachment.storage_key}/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


def test_hsts_only_when_configured_and_only_over_https(client, settings):
    assert "Strict-Transport-Security" not in client.get("/healthz", secure=True)
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    from django.test import Client

    fresh = Client()  # SecurityMiddleware reads its settings when the stack is built
    assert (
        fresh.get("/healthz", secure=True)["Strict-Transport-Security"]
        == "max-age=31536000; includeSubDomains"
    )
    # Over plain HTTP the header means nothing and is not sent (RFC 6797).
    assert "Strict-Transport-Security" not in fresh.get("/healthz")
