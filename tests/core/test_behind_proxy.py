"""``mainspring serve`` as the reverse proxy sees it: the scheme and client address come
from X-Forwarded-* only when the peer is a trusted proxy; chunked bodies get 411; HSTS."""

from __future__ import annotations

import http.client
import socket

import pytest

from ..process_support import process_env, serving, sqlite_pass_only

UNTRUSTED_PEER = "127.0.0.2"  # also loopback on Linux, but not in the allow list


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = process_env(tmp_path_factory.mktemp("proxy-data"))
    env.update(
        MAINSPRING_HSTS_SECONDS="31536000",
        MAINSPRING_HSTS_INCLUDE_SUBDOMAINS="true",
        # Each failed sign-in costs a real password hash here: lock after two.
        MAINSPRING_LOGIN_FAILURE_LIMIT="2",
    )
    with serving(env, "--no-worker", "--threads", "2") as served:
        # serve says where it listens before anything else.
        first_line = served.lines[0] if served.lines else ""
        assert f"listening on http://127.0.0.1:{served.port}/" in first_line, served.output
        yield served.port


def get(port: int, path: str, headers: dict | None = None, source: str = "127.0.0.1"):
    return send(port, "GET", path, headers, source=source)


def send(port, method, path, headers=None, body=None, source="127.0.0.1"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


@sqlite_pass_only
def test_hsts_over_https_as_the_trusted_proxy_reports_it(server):
    _, headers, _ = get(server, "/healthz", {"X-Forwarded-Proto": "https"})
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    # Plain HTTP: no HSTS (a browser would ignore it anyway).
    _, headers, _ = get(server, "/healthz")
    assert "Strict-Transport-Security" not in headers


@sqlite_pass_only
def test_an_untrusted_peer_cannot_claim_https(server):
    status, headers, _ = get(
        server, "/healthz", {"X-Forwarded-Proto": "https"}, source=UNTRUSTED_PEER
    )
    assert status == 200
    assert "Strict-Transport-Security" not in headers


@sqlite_pass_only
def test_a_chunked_upload_is_411(server):
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/incidents/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer ms_anything\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b'10\r\n{"title": "abc"}\r\n0\r\n\r\n'
        )
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 411"), head
    assert b'"code": "length_required"' in body  # (the answer is chunked itself)


@sqlite_pass_only
def test_static_files_are_cached_and_pages_are_not(server):
    status, headers, _ = get(server, "/static/mainspring/app.css")
    assert status == 200
    assert "no-store" not in headers["Cache-Control"]
    assert "max-age" in headers["Cache-Control"]
    _, headers, _ = get(server, "/login/")
    assert "no-store" in headers["Cache-Control"]


def _token_attempt(port: int, forwarded_for: str, source: str = "127.0.0.1") -> int:
    status, _, _ = send(
        port,
        "POST",
        "/api/v1/auth/token/",
        {"Content-Type": "application/json", "X-Forwarded-For": forwarded_for},
        b'{"username": "ghost", "password": "guess"}',
        source=source,
    )
    return status


@sqlite_pass_only
def test_the_lockout_follows_the_forwarded_client_through_gunicorn(server):
    # Through the trusted proxy: one client locks itself, not the next one.
    statuses = [_token_attempt(server, "192.0.2.1, 203.0.113.5") for _ in range(2)]
    assert statuses == [400, 429]
    assert _token_attempt(server, "203.0.113.5") == 429
    assert _token_attempt(server, "203.0.113.6") == 400
    # A peer we do not trust is one client, whatever it forwards.
    statuses = [_token_attempt(server, f"198.51.100.{n}", UNTRUSTED_PEER) for n in range(2)]
    assert statuses == [400, 429]
