"""Shared fixtures: users of every role, API clients, a clean media folder, task running."""

from __future__ import annotations

import logging
import os

import pytest
from django.db import connection
from rest_framework.test import APIClient

from mainspring.identity.models import ApiToken, Role, hash_token

from .browser_support import browser, new_page  # noqa: F401  (one browser per worker)
from .factories import PASSWORD, GroupFactory, UserFactory, add_member

# aiosmtpd (the tests' SMTP server) logs each connection from its own thread, which can
# outlive the captured stream of the test that started it ("Logging error" noise).
logging.getLogger("mail.log").setLevel(logging.WARNING)

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to
# run beside one unless told this is deliberate. Only the browser tests use it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    on_postgres = os.environ.get("MAINSPRING_DATABASE_URL", "").startswith("postgres")
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set MAINSPRING_DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip_pg)


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BASE_URL = "http://testserver"
    # Fast hashing in tests; production keeps Django's default (PBKDF2).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Each test's database starts over (same ids, frozen clocks), so per-process
    caches keyed by id and timestamp must too; a real database never reuses them."""
    from mainspring.core.reference_cache import clear_all
    from mainspring.sla.services import _CONFIGS

    _CONFIGS.clear()
    clear_all()


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Transactional tests end with a flush that also empties the migrations' reference
    data; put it back so every database test starts from what an installation has."""
    if not (
        {"db", "transactional_db", "live_server"} & set(request.fixturenames)
        or request.node.get_closest_marker("django_db")
    ):
        return
    request.getfixturevalue(
        "db"
        if "transactional_db" not in request.fixturenames
        and "live_server" not in request.fixturenames
        and not _is_transactional(request)
        else "transactional_db"
    )
    from mainspring.incidents.models import PriorityRule, ResolutionCode
    from mainspring.incidents.reference import ensure_reference_data

    if PriorityRule.objects.count() < 9 or not ResolutionCode.objects.exists():
        ensure_reference_data(ResolutionCode, PriorityRule)


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def service_desk(db):
    return GroupFactory(name="Service Desk")


@pytest.fixture
def network_team(db):
    return GroupFactory(name="Network")


@pytest.fixture
def requester(db):
    return UserFactory(username="alice", role=Role.REQUESTER)


@pytest.fixture
def other_requester(db):
    return UserFactory(username="bob", role=Role.REQUESTER)


@pytest.fixture
def agent(db, service_desk):
    user = UserFactory(username="agent", role=Role.AGENT)
    add_member(service_desk, user)
    return user


@pytest.fixture
def other_agent(db, service_desk):
    user = UserFactory(username="agent2", role=Role.AGENT)
    add_member(service_desk, user)
    return user


@pytest.fixture
def manager(db, service_desk):
    user = UserFactory(username="manager", role=Role.MANAGER)
    add_member(service_desk, user, manager=True)
    return user


@pytest.fixture
def admin(db):
    return UserFactory(username="admin", role=Role.ADMIN, is_superuser=True)


def token_for(user) -> str:
    raw = ApiToken.generate()
    ApiToken.objects.create(user=user, name="test", key_hash=hash_token(raw), hint=raw[:10])
    return raw


@pytest.fixture
def api_for():
    """``api_for(user)``: an APIClient authenticated with a real Bearer token."""

    def make(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
        return client

    return make


@pytest.fixture
def run_tasks():
    """Run every queued background task now, as a worker would (real DB backend)."""
    from mainspring.core.worker import run_pending_tasks

    return run_pending_tasks


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"
