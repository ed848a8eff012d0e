"""Small helpers for the API tests."""

from __future__ import annotations


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The response is ``status`` in the one error shape; returns the error object."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message", "fields"} <= set(error), error
    assert isinstance(error["fields"], dict)
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


def url(number: str = "", action: str = "") -> str:
    path = "/api/v1/incidents/"
    if number:
        path += f"{number}/"
    if action:
        path += f"{action}/"
    return path
