"""/healthz says the process is up; /readyz also needs the database and a live worker."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from mainspring.core.models import WorkerHeartbeat
from mainspring.core.worker import BackgroundWorker


def test_healthz_is_ok_without_touching_the_database(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_touches_no_database_with_credentials_either(
    client, agent, django_assert_num_queries
):
    # Nothing on the way (sessions, users, the lockout, caching headers) may load anything:
    # a session cookie, a signed-in session or a token must not make the probe wait on
    # a hung database (tests/core/test_outage.py proves it against one).
    client.cookies["sessionid"] = "not-a-session"
    with django_assert_num_queries(0):
        assert client.get("/healthz", HTTP_AUTHORIZATION="Bearer ms_x").status_code == 200
    client.force_login(agent)
    with django_assert_num_queries(0):
        assert client.get("/healthz").status_code == 200


def test_readyz_is_503_until_a_worker_is_seen(client, db):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["migrations"] == "ok"
    assert body["checks"]["worker"] != "ok"

    BackgroundWorker(worker_id="test-worker").heartbeat()

    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "worker": "ok"},
        "dead_tasks": 0,
    }


def test_readyz_ignores_a_stale_heartbeat(client, db, settings):
    settings.WORKER_HEARTBEAT_STALE_SECONDS = 60
    WorkerHeartbeat.objects.create(
        worker_id="gone", hostname="old", seen_at=timezone.now() - timedelta(minutes=5)
    )
    assert client.get("/readyz").status_code == 503


def test_health_endpoints_refuse_writes(client, db):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405
