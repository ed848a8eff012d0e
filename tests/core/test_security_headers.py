"""Every response carries a strict CSP and nosniff; huge bodies are refused early."""

import pytest


@pytest.mark.django_db
def test_csp_on_pages(client):
    response = client.get("/healthz")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_oversized_body_is_413_before_reading(client, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    response = client.generic(
        "POST",
        "/api/v1/incidents/",
        b"x" * 10,
        content_type="application/json",
        CONTENT_LENGTH=str(5 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


@pytest.mark.django_db
@pytest.mark.parametrize("htmx", [False, True])
def test_oversized_form_post_is_a_page_not_json(client, settings, htmx):
    settings.ATTACHMENT_MAX_BYTES = 1024
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.generic(
        "POST",
        "/incidents/INC0001001/attach/",
        b"x" * 10,
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(5 * 1024 * 1024),
        headers=headers,
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert 'role="alert"' in body and "Nothing was saved" in body
    assert ("<html" in body) is not htmx


@pytest.mark.django_db
def test_unknown_page_is_a_plain_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Traceback" not in response.content


@pytest.mark.django_db
def test_api_404_uses_the_error_shape(client):
    response = client.get("/api/v1/no-such-thing/", HTTP_ACCEPT="application/json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
