"""A database that hangs or is gone: the instance keeps answering, with 503 + Retry-After.

The real thing: ``mainspring serve`` in its own process, its database URL pointing at a
socket on 127.0.0.1 that accepts connections and never says a word (a hung server, a
stuck bouncer), and then at a closed port. PostgreSQL's own connection, killed with
``pg_terminate_backend`` mid-session, covers a database that goes away under a request.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseWrapper
from django.db.utils import OperationalError
from django.test import RequestFactory

from mainspring.core.views import server_error

from ..process_support import free_port, process_env, serving, sqlite_pass_only

CONNECT_TIMEOUT = 2  # the minimum libpq honours


class BlackHole:
    """A TCP listener on 127.0.0.1 that accepts every connection and never answers."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close_port(self) -> None:
        """From now on the port refuses connections (the database is simply down)."""
        # shutdown() wakes the blocked accept(); close() alone would leave it listening.
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for conn in self.accepted:
            conn.close()


def request(
    port: int, method: str, path: str, headers: dict | None = None, body: bytes | None = None
) -> tuple[int, dict, bytes, float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        payload = response.read()
        return response.status, dict(response.getheaders()), payload, time.monotonic() - started
    finally:
        conn.close()


@contextlib.contextmanager
def serving_on(database_port: int, data_dir: Path):
    """``mainspring serve`` (with its in-process worker) on a database at ``database_port``."""
    env = process_env(data_dir)
    env.update(
        MAINSPRING_DATABASE_URL=f"postgres://mainspring@127.0.0.1:{database_port}/mainspring",
        MAINSPRING_DB_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT),
    )
    # No migrate: it would wait on the database like everything else.
    with serving(env, "--no-migrate", "--threads", "4") as served:
        yield served.port
    # A database outage is no reason to die: the process stops only when told to.
    assert served.returncode == 0, served.output


@pytest.fixture(scope="module")
def hung_database(tmp_path_factory):
    hole = BlackHole()
    try:
        with serving_on(hole.port, tmp_path_factory.mktemp("hung-db")) as port:
            yield port, hole
    finally:
        hole.close_port()


@sqlite_pass_only
def test_healthz_answers_and_readyz_says_503_while_the_database_hangs(hung_database):
    port, hole = hung_database
    with ThreadPoolExecutor(max_workers=3) as pool:
        probes = [pool.submit(request, port, "GET", "/readyz") for _ in range(3)]
        time.sleep(0.3)  # the probes now wait on the database in three request threads
        status, _, body, took = request(port, "GET", "/healthz")
        assert status == 200 and json.loads(body) == {"status": "ok"}
        assert took < 1.0, f"/healthz took {took:.1f}s while the database hangs"
        for probe in probes:
            status, _, body, took = probe.result()
            assert status == 503
            assert took < 5.0, f"/readyz took {took:.1f}s"
            checks = json.loads(body)["checks"]
            assert checks["database"].startswith("error"), checks
    assert hole.accepted, "the server never even tried the database"


@sqlite_pass_only
def test_api_and_pages_answer_503_with_retry_after_while_the_database_hangs(hung_database):
    port, _ = hung_database
    status, headers, body, took = request(
        port,
        "POST",
        "/api/v1/incidents/",
        {"Authorization": "Bearer ms_anything", "Content-Type": "application/json"},
        b'{"title": "Printer on fire"}',
    )
    assert status == 503, body
    assert headers["Retry-After"] == "5"
    assert json.loads(body)["error"]["code"] == "unavailable"
    assert set(json.loads(body)["error"]) == {"code", "message", "fields"}
    assert took < 5.0

    status, headers, body, _ = request(
        port, "GET", "/incidents/", {"Cookie": "sessionid=somebodys-session", "Accept": "text/html"}
    )
    assert status == 503
    assert headers["Retry-After"] == "5"
    assert headers["Content-Type"].startswith("text/html")
    assert b"Temporarily unavailable" in body
    assert headers["Cache-Control"] == "no-store"


@sqlite_pass_only
def test_a_database_that_is_down_is_503_at_once(tmp_path):
    with serving_on(free_port(), tmp_path) as port:  # nothing listens on the database port
        status, headers, body, took = request(
            port, "GET", "/api/v1/incidents/", {"Authorization": "Bearer ms_anything"}
        )
        assert status == 503, body
        assert headers["Retry-After"] == "5"
        assert json.loads(body)["error"]["code"] == "unavailable"
        assert took < 1.0
        status, _, body, took = request(port, "GET", "/readyz")
        assert status == 503 and took < 1.0
        assert request(port, "GET", "/healthz")[0] == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_terminated_mid_session_is_503_then_recovers(api_for, agent, client):
    api = api_for(agent)
    client.force_login(agent)
    assert api.get("/api/v1/incidents/").status_code == 200
    assert client.get("/incidents/").status_code == 200

    def terminate_our_backend() -> None:
        pid = connection.connection.info.backend_pid
        params = connection.get_connection_params()
        with psycopg.connect(**params, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    # The test client keeps one connection for the whole test (no request-start
    # health check), so every request below meets the dead one.
    terminate_our_backend()
    response = api.get("/api/v1/incidents/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "unavailable"
    page = client.get("/incidents/")
    assert page.status_code == 503
    assert b"Temporarily unavailable" in page.content

    # What Django does between requests outside tests: drop the broken connection.
    connection.close_if_unusable_or_obsolete()
    assert api.get("/api/v1/incidents/").status_code == 200


def test_an_outage_raised_outside_a_view_is_503_too(tmp_path, db):
    # Django calls handler500 inside its except block for what a middleware raises (a
    # session saved on the way out): a real driver error from a database that is not there.
    unreachable = DatabaseWrapper(
        {
            **connection.settings_dict,
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(tmp_path / "missing" / "db.sqlite3"),
            "OPTIONS": {},
        }
    )
    request = RequestFactory().get("/portal/", HTTP_ACCEPT="text/html")
    try:
        unreachable.cursor()
    except OperationalError:
        response = server_error(request)
    else:
        pytest.fail("the database should not have opened")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"Temporarily unavailable" in response.content
    # Anything else is still a plain 500.
    try:
        raise ValueError("a bug")
    except ValueError:
        assert server_error(request).status_code == 500
