"""The API against its own OpenAPI schema: schemathesis with every check, every phase.

This is ``schemathesis run --checks all`` (examples, coverage, fuzzing and stateful
phases) as a test: the library's engine, in-process against our WSGI application, once
for a requester, an agent and an admin, derandomized and with few examples per
operation so it stays fast. Any failure of any check fails the test: where the product
and the schema disagree, one of them is wrong and gets fixed. Generated
``POST /api/v1/incidents/`` bodies must create incidents (201), so the schema really
tells a client how to create one.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

# Imported here, not lazily inside the engine's worker thread: Python 3.11's parser is
# not thread-safe while pytest rewrites a module that imports it (a SystemError).
import hypothesis.strategies._internal.random  # noqa: F401
import pytest
import schemathesis
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.transport.wsgi import WSGI_TRANSPORT

from mainspring.core import services as core_services
from mainspring.identity.models import ApiToken
from mainspring.knowledge import services as kb_services
from mainspring.knowledge.models import KnowledgeReviewer
from mainspring.wsgi import application

from ..conftest import token_for
from ..factories import CategoryFactory, make_incident

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
INCIDENTS = "/api/v1/incidents/"

# A handful of examples per operation and phase keeps the three runs near a minute on
# two cores while every phase still reaches every operation.
MAX_EXAMPLES = 3
STATEFUL_STEPS = 6


# positive_data_acceptance says "a request the schema allows must succeed". It is
# genuinely inapplicable where success depends on what the server holds, which no JSON
# Schema can say; those operations are excluded from that one check (every other check
# still runs on them), each for a stated reason:
#  - a `cursor`: an opaque position the server issued; any other string is a 400;
#  - `If-Match`: a well-formed but old version is a 412 by design, a status the check
#    does not allow (it allows 404/409 for state, not 412);
#  - a field naming another object (a username, number or id): one that does not exist
#    is a 400 naming the field;
#  - the token endpoint: a username and password the schema allows are mostly wrong.
REFERENCES = frozenset(
    {
        "requester",
        "assignee",
        "assignment_group",
        "category",
        "subcategory",
        "parent",
        "groups",
        "group",
        "related",
        "target",
        "user",
        "username",
        "resolution_code",
        "calendar",
    }
)
# ...and operations whose rules span fields or stored rows (names unique among
# siblings, a period's end after its start, filters only articles have, rating only a
# published article, calendars' time zones and holiday countries from their databases).
STATE_DEPENDENT = {
    ("POST", "/api/v1/groups/"),
    ("PATCH", "/api/v1/groups/{id}/"),
    ("PUT", "/api/v1/groups/{id}/"),
    ("POST", "/api/v1/categories/"),
    ("PATCH", "/api/v1/categories/{id}/"),
    ("PUT", "/api/v1/categories/{id}/"),
    ("POST", "/api/v1/resolution-codes/"),
    ("PATCH", "/api/v1/resolution-codes/{code}/"),
    ("PUT", "/api/v1/resolution-codes/{code}/"),
    ("POST", "/api/v1/calendars/"),
    ("PATCH", "/api/v1/calendars/{id}/"),
    ("PUT", "/api/v1/calendars/{id}/"),
    ("POST", "/api/v1/slas/"),
    ("PATCH", "/api/v1/slas/{id}/"),
    ("PUT", "/api/v1/slas/{id}/"),
    ("GET", "/api/v1/sla-report/"),
    ("GET", "/api/v1/search/"),
    ("POST", "/api/v1/articles/{number}/feedback/"),
}


# Checks each run must have exercised (use_after_free needs a generated DELETE of
# something just created, which not every role can do; positive_data_acceptance
# records only its failures).
EVERY_RUN_CHECKS = frozenset(
    {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "missing_required_header",
        "ignored_auth",
        "unsupported_method",
        "allow_header_conformance",
        "ensure_resource_availability",
    }
)


def _server_state_operations() -> list[tuple[str, str]]:
    schema = yaml.safe_load(SCHEMA_FILE.read_text())
    chosen = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            names = {p["name"] for p in operation.get("parameters", [])}
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
                names |= set(schema["components"]["schemas"][ref].get("properties", {}))
            if (
                {"cursor", "If-Match"} & names
                or REFERENCES & names
                or path == "/api/v1/auth/token/"
                or (method.upper(), path) in STATE_DEPENDENT
            ):
                chosen.append((method.upper(), path))
    return chosen


def _config(token: str) -> SchemathesisConfig:
    config = SchemathesisConfig.from_dict(
        {
            "operations": [
                {
                    "include-method": method,
                    "include-path": path,
                    "checks": {"positive_data_acceptance": {"enabled": False}},
                }
                for method, path in _server_state_operations()
            ],
            # The same cases every run: CI must not pass or fail by luck.
            "seed": 20260601,
            # Nothing learnt in one run carries into the next: the same run every time.
            "cache": {"enabled": False},
            # Every check, as `--checks all` (less those disabled per operation below).
            "checks": {"enabled": True},
            "headers": {"Authorization": f"Bearer {token}"},
            "workers": 1,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": STATEFUL_STEPS},
            },
        }
    )
    return config


@pytest.fixture
def in_process_probes(monkeypatch):
    """schemathesis 4.32.5's ``ignored_auth`` probe hands the WSGI transport the
    socket-only options (``max_redirects``...) that the transport drops for every other
    request, and werkzeug refuses them; drop them here too."""
    send = WSGI_TRANSPORT.send

    def send_in_process(case, **kwargs):
        for name in ("max_redirects", "verify", "cert", "proxies"):
            kwargs.pop(name, None)
        return send(case, **kwargs)

    monkeypatch.setattr(WSGI_TRANSPORT, "send", send_in_process)


@pytest.fixture
def world(requester, agent, admin, service_desk, password):
    """Something of each kind to aim at, so generated requests reach real code."""

    network = CategoryFactory(name="Network")
    CategoryFactory(name="VPN", parent=network)
    incident = make_incident(by=agent, requester=requester, category=network)
    core_services.add_attachment(
        incident,
        by=requester,
        upload=SimpleUploadedFile("note.txt", b"hello", content_type="text/plain"),
    )
    KnowledgeReviewer.objects.create(user=admin)
    published = kb_services.create_article(by=agent, title="Reset your VPN token", body="Do.")
    kb_services.publish(published, by=admin)
    draft = kb_services.create_article(by=agent, title="Printer jams", body="Steps.")
    return {"incident": incident, "articles": [published, draft]}


class ClosingThreadConnections:
    """Our WSGI application as the engine calls it, from threads of its own. Django keeps
    a database connection per thread (CONN_MAX_AGE); those threads end with the run, but
    their connections would stay open and keep PostgreSQL's test database from being
    dropped. This remembers each one and closes it after the run."""

    def __init__(self, app) -> None:
        self.app = app
        # By the wrapper itself: a finished thread's ident is reused by the next one.
        self.opened: dict[int, object] = {}

    def __call__(self, environ, start_response):
        try:
            return self.app(environ, start_response)
        finally:
            if threading.current_thread() is not threading.main_thread():
                wrapper = connections["default"]
                self.opened[id(wrapper)] = wrapper

    def close(self) -> None:
        for wrapper in self.opened.values():
            if wrapper.connection is not None:
                wrapper.connection.close()  # the driver's: Django's is for its own thread


def _run(token: str) -> tuple[list[str], Counter, set[str], float]:
    schema = schemathesis.openapi.from_path(SCHEMA_FILE, config=_config(token))
    schema.app = app = ClosingThreadConnections(application)
    try:
        return _execute(schema)
    finally:
        app.close()


def _execute(schema) -> tuple[list[str], Counter, set[str], float]:
    failures: list[str] = []
    statuses: Counter = Counter()
    ran: set[str] = set()
    started = time.monotonic()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    ran.add(check.name)
                    if check.failure_info is None:
                        continue
                    case = recorder.cases[case_id].value
                    failure = check.failure_info.failure
                    failures.append(
                        f"[{event.phase.value}] {check.name} on {case.operation.label}: "
                        f"{failure.title}\n{failure.message}\n{check.failure_info.code_sample}"
                    )
            for interaction in recorder.interactions.values():
                if interaction.response is None:
                    continue
                path = interaction.request.uri.split("://", 1)[-1]
                path = "/" + path.split("/", 1)[-1].split("?", 1)[0]
                statuses[(interaction.request.method, path, interaction.response.status_code)] += 1
        elif isinstance(event, events.NonFatalError):
            failures.append(f"error in {event.label}: {event.info}")
        elif isinstance(event, events.FatalError):
            failures.append(f"fatal: {event.exception!r}")
    return failures, statuses, ran, time.monotonic() - started


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ["requester", "agent", "admin"])
def test_the_api_does_what_its_schema_says(role, request, world, in_process_probes):
    user = request.getfixturevalue(role)
    failures, statuses, ran, elapsed = _run(token_for(user))
    print(f"{role}: {sum(statuses.values())} requests in {elapsed:.1f}s")
    assert not failures, "\n\n".join(dict.fromkeys(failures))
    assert EVERY_RUN_CHECKS <= ran, f"checks that never ran: {EVERY_RUN_CHECKS - ran}"
    created = statuses[("POST", INCIDENTS, 201)]
    assert created >= 3, f"generated incident bodies never reached 201: {statuses}"
    # The run used its credentials: not everything was a 401.
    assert ApiToken.objects.filter(user=user, last_used_at__isnull=False).exists()
