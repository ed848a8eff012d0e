"""No input gives a 500 (docs/api.md), for each class of hostile input, on every route.

The routes come from the URL conf, the API's fields from its OpenAPI schema and the
pages' fields from their forms and links (``surface``): nothing here is a hand-kept
list of endpoints. Each request runs in a savepoint that is rolled back, so each one
meets the same world; every failure is collected and reported together.

Classes (issue 9): 7 deep nesting, 8 NUL, 9 non-finite numbers, 10 crafted cursors,
11 Unicode digits. Every route is tried anonymously, as a requester and as an agent;
as an admin where the permission differs (configuration) and on the admin site.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterable
from itertools import cycle
from urllib.parse import urlencode

import pytest
from django.db import transaction
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from rest_framework.permissions import AllowAny, IsAuthenticated

from . import surface
from .surface import Operation, Route, World

WRITES = ("POST", "PUT", "PATCH", "DELETE")
ANY_4XX = frozenset(range(400, 500))


# -- the harness ----------------------------------------------------------------------


def roles_for(route: Route) -> tuple[str, ...]:
    """Who to try a route as: the admin site as admin; elsewhere anonymous, requester
    and agent, and admin too where the view's permission asks more than a sign-in."""
    if route.is_admin:
        return ("admin",)
    view_class = getattr(route.callback, "cls", None)
    permissions = getattr(view_class, "permission_classes", ())
    extra = [p for p in permissions if p not in (AllowAny, IsAuthenticated)]
    return (
        ("anonymous", "requester", "agent", "admin")
        if extra
        else ("anonymous", "requester", "agent")
    )


class Probe:
    """Sends requests as each role and collects every answer that breaks a rule."""

    def __init__(self, world: World):
        self.world = world
        self.clients: dict[str, Client] = {"anonymous": Client(raise_request_exception=False)}
        for role, user in world.users.items():
            client = Client(raise_request_exception=False)
            client.force_login(user)
            self.clients[role] = client
        self.failures: list[str] = []
        self.sent = 0
        self._pages: dict[str, tuple] = {}
        self._paginated: dict[tuple[str, str], bool] = {}

    def each_route(self) -> Iterable[tuple[str, Route, str]]:
        """(role, route, real path) for every route and every role it is tried as."""
        for route in surface.routes():
            path = route.path(self.world)
            for role in roles_for(route):
                yield role, route, path

    def api_writes(self) -> Iterable[tuple[str, Route, str, str, Operation]]:
        for role, route, path in self.each_route():
            if route.is_api:
                for method in route.methods:
                    if method in WRITES:
                        yield role, route, path, method, surface.operation(route, method)

    def api_reads(self) -> Iterable[tuple[str, Route, str, Operation]]:
        for role, route, path in self.each_route():
            if route.is_api and "GET" in route.methods and role != "anonymous":
                yield role, route, path, surface.operation(route, "GET")

    def paginated(self, role: str, path: str) -> bool:
        """Whether ``path`` answers ``role`` with a page of a keyset-paginated list."""
        key = (role, path)
        if key not in self._paginated:
            response = self.send(role, "GET", path)
            page = response.json() if response is not None and response.status_code == 200 else None
            self._paginated[key] = isinstance(page, dict) and "results" in page
        return self._paginated[key]

    def pages(self, role: str):
        """The forms and query links of the HTML pages ``role`` sees (crawled once)."""
        if role not in self._pages:
            self._pages[role] = surface.crawl(self.clients[role], self.world, role)
        return self._pages[role]

    def send(
        self,
        role: str,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: bytes | str = b"",
        content_type: str = "application/octet-stream",
        headers: dict[str, str] | None = None,
        expect: Iterable[int] | None = None,
        fields: Iterable[str] = (),
        what: str = "",
    ):
        """One request. A failure: a 5xx; an API error outside the error shape; a
        status outside ``expect``; a 400 whose error does not name each of ``fields``."""
        url = path + ("?" + urlencode(query) if query else "")
        label = f"{role} {method} {url[:150]!r} {what}".strip()
        self.sent += 1
        client = self.clients[role]
        # The database goes back to how it was; so does the cookie jar (a sign-out or a
        # password change must not turn the next request anonymous).
        cookies = copy.deepcopy(client.cookies)
        try:
            with transaction.atomic():
                response = client.generic(
                    method, url, body, content_type=content_type, headers=headers or {}
                )
                transaction.set_rollback(True)
        except Exception as exc:  # the error page itself failed: a 500 all the same
            self.failures.append(f"{label}: raised {exc!r}")
            return None
        finally:
            client.cookies = cookies
        status = response.status_code
        if status >= 500:
            exc_info = getattr(response, "exc_info", None)
            cause = repr(exc_info[1])[:200] if exc_info else response.content[:200]
            self.failures.append(f"{label}: {status} {cause}")
            return response
        error = None
        if path.startswith("/api/") and status >= 400:
            error = _error_of(response)
            if error is None:
                self.failures.append(f"{label}: {status} not in the error shape")
                return response
        expected = set(expect) if expect is not None else None
        if expected is not None and status not in expected:
            shown = "4xx" if expected >= ANY_4XX else sorted(expected)
            self.failures.append(f"{label}: {status}, expected {shown}")
        elif status == 400 and error is not None:
            missing = [f for f in fields if f not in error["fields"]]
            if missing:
                self.failures.append(f"{label}: 400 without {missing} in {error['fields']}")
        return response

    def check(self, minimum: int) -> None:
        assert not self.failures, f"{len(self.failures)} of {self.sent}:\n" + "\n".join(
            self.failures[:60]
        )
        # A discovery that silently found nothing to try would pass everything.
        assert self.sent >= minimum, self.sent


def _error_of(response) -> dict | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not {"code", "message", "fields"} <= set(error):
        return None
    return error if isinstance(error["fields"], dict) else None


@pytest.fixture
def probe(db) -> Probe:
    return Probe(surface.build_world())


# -- bodies, forms and links ----------------------------------------------------------


def json_text(fields: dict[str, str]) -> str:
    """A JSON object whose values are raw JSON text (``1e400``, ``NaN``...)."""
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in fields.items()) + "}"


def form_bodies(op: Operation, value: str) -> list[tuple[bytes | str, str]]:
    """Every field of the operation set to ``value``, as each form type it takes."""
    fields = dict.fromkeys(op.body or {}, value)
    multipart = (encode_multipart(BOUNDARY, fields), MULTIPART_CONTENT)
    if op.multipart:
        return [multipart]
    return [(urlencode(fields), "application/x-www-form-urlencoded"), multipart]


def is_integer(schema: dict) -> bool:
    items = schema.get("items", {}) if schema.get("type") == "array" else schema
    return items.get("type") == "integer"


def takes_json(op: Operation) -> bool:
    return op.body is not None and not op.multipart


def has_integer_field(op: Operation) -> bool:
    return any(is_integer(schema) for schema in (op.body or {}).values())


def each_form(
    probe: Probe, value: str, *, one_by_one: bool = False
) -> Iterable[tuple[str, str, Callable]]:
    """(role, label, send) for each form the pages show, all its fields set to
    ``value``; with ``one_by_one`` also each field that picks a branch or an id
    (selects, hidden and number inputs, buttons) alone, the rest left as the page
    filled them. The admin site's forms (Django's code) only all at once."""
    for role in ("anonymous", "requester", "agent", "admin"):
        forms, _ = probe.pages(role)
        for form in forms:
            if not form.names:
                continue
            targets = [set(form.names)]
            if one_by_one and not form.action.startswith("/admin/"):
                targets += [{name} for name in form.names if name in form.choices]
            for names in targets:
                data = [(n, value if n in names else v) for n, v in form.fields]
                label = "form " + ("*" if len(names) > 1 else next(iter(names)))
                yield role, label, _form_sender(probe, role, form, data)


def _form_sender(probe: Probe, role: str, form: surface.Form, data) -> Callable:
    def send(**kwargs):
        if form.method == "GET":
            return probe.send(role, "GET", form.action, query=data, **kwargs)
        if form.multipart:
            fields: dict[str, list[str]] = {}
            for n, v in data:
                fields.setdefault(n, []).append(v)
            body, content_type = encode_multipart(BOUNDARY, fields), MULTIPART_CONTENT
        else:
            body, content_type = urlencode(data), "application/x-www-form-urlencoded"
        return probe.send(role, "POST", form.action, body=body, content_type=content_type, **kwargs)

    return send


def each_link(probe: Probe, values: Iterable[str]):
    """(role, path, query) for each query-string link the pages show, with each
    parameter in turn set to each of ``values`` (the admin's links all at once)."""
    for role in ("requester", "agent", "admin"):
        _, links = probe.pages(role)
        for path, query in links:
            names = (
                [{n for n, _ in query}] if path.startswith("/admin/") else [{n} for n, _ in query]
            )
            for replaced in names:
                for value in values:
                    yield role, path, [(n, value if n in replaced else v) for n, v in query]


# -- 7: deep nesting ------------------------------------------------------------------

DEEP = "[" * 2_000 + "]" * 2_000  # Python's recursion limit is 1,000
UNCLOSED = "{" + '"a":[' * 2_000


def test_deeply_nested_json_is_400_everywhere(probe):
    """Nesting deeper than 32 is a 400 before anything recurses: every API body (the
    anonymous token endpoint too), JSON typed into a form (the admin's JSON fields),
    a JSON body posted to a page."""
    for role, _route, path, method, op in probe.api_writes():
        name = next(iter(op.body or {"value": None}))
        for body in (DEEP, UNCLOSED, json_text({name: DEEP})):
            probe.send(
                role, method, path, body=body, content_type="application/json",
                expect=ANY_4XX if takes_json(op) else None, fields=["non_field"],
            )  # fmt: skip
    for role, route, path in probe.each_route():
        # Our pages, not Django's admin site (its forms are tried below).
        if not route.is_api and not route.is_admin and "POST" in route.methods:
            probe.send(role, "POST", path, body=DEEP, content_type="application/json")
    for _role, label, send in each_form(probe, DEEP):
        send(what=label)
    probe.check(minimum=400)


# -- 8: NUL ---------------------------------------------------------------------------


def test_nul_in_path_query_header_or_body_is_400_or_404(probe):
    """PostgreSQL cannot compare NUL. In a path segment it is a 404; in a query
    parameter, a header, a JSON string (value or key) or a form field a 400 naming it;
    all before any lookup."""
    for role, route, path in probe.each_route():
        for name in route.kwargs:
            real = surface.kwarg_value(probe.world, route.route, name)
            for bad in (real + "\x00", "\x00"):
                probe.send(
                    role, route.methods[0], route.path(probe.world, **{name: bad}), expect={404}
                )
        method = "GET" if "GET" in route.methods else route.methods[0]
        params = set(surface.operation(route, method).query) | {"q"}
        for param in sorted(params):
            probe.send(role, method, path, query=[(param, "a\x00b")], expect={400}, fields=[param])
        probe.send(role, method, path, headers={"X-Trace": "a\x00b"}, expect={400})
    for role, _route, path, method, op in probe.api_writes():
        for header in op.headers:
            probe.send(
                role, method, path, headers={header: '"1\x00"'}, expect={400}, fields=[header]
            )
        if op.body is None:
            continue
        names = list(op.body)
        if takes_json(op):
            nul = json.dumps(dict.fromkeys(names, "a\x00b"))
            expect = ANY_4XX
            probe.send(
                role,
                method,
                path,
                body=nul,
                content_type="application/json",
                expect=expect,
                fields=names,
            )
            key = '{"\\u0000": 1}'
            probe.send(
                role,
                method,
                path,
                body=key,
                content_type="application/json",
                expect=expect,
                fields=["\\x00"],
            )
        for body, content_type in form_bodies(op, "a\x00b"):
            probe.send(
                role,
                method,
                path,
                body=body,
                content_type=content_type,
                expect=ANY_4XX,
                fields=names,
            )
    for _role, label, send in each_form(probe, "a\x00b"):
        send(expect={400}, what=label)
    for role, path, query in each_link(probe, ["a\x00b"]):
        probe.send(role, "GET", path, query=query, expect={400})
    probe.check(minimum=1500)


# -- 9: non-finite numbers ------------------------------------------------------------

NON_FINITE_JSON = ("1e400", "-1e400", "Infinity", "-Infinity", "NaN", "99999999999999999999")
NON_FINITE_TEXT = ("1e400", "-Infinity", "NaN", "99999999999999999999999")


def test_non_finite_numbers_are_400(probe):
    """``1e400``, ``Infinity``, ``NaN`` (or an integer beyond 64 bits) in any JSON field,
    alone or in a list, is a 400 naming it; as text in an id field, a query parameter
    or a form, never a 500."""
    for role, _route, path, method, op in probe.api_writes():
        if takes_json(op) and op.body:
            literals = cycle(NON_FINITE_JSON)
            body = {
                name: f"[{next(literals)}]" if schema.get("type") == "array" else next(literals)
                for name, schema in op.body.items()
            }
            probe.send(
                role, method, path, body=json_text(body), content_type="application/json",
                expect=ANY_4XX, fields=list(body),
            )  # fmt: skip
        for text in NON_FINITE_TEXT[:2]:
            for body, content_type in form_bodies(op, text)[:1]:
                probe.send(
                    role, method, path, body=body, content_type=content_type,
                    expect=ANY_4XX if has_integer_field(op) else None,
                )  # fmt: skip
    for role, _route, path, op in probe.api_reads():
        for name, schema in op.query.items():
            if name == "cursor":
                continue
            strict = is_integer(schema) and (name != "page_size" or probe.paginated(role, path))
            for text in NON_FINITE_TEXT if is_integer(schema) else NON_FINITE_TEXT[:1]:
                probe.send(
                    role, "GET", path, query=[(name, text)], expect=ANY_4XX if strict else None
                )
    for _role, label, send in each_form(probe, "1e400"):
        send(what=label)
    for role, path, query in each_link(probe, NON_FINITE_TEXT[:2]):
        probe.send(role, "GET", path, query=query)
    probe.check(minimum=800)


# -- 10: crafted cursors --------------------------------------------------------------

# JSON no ordering field accepts: non-finite, fractional, boolean, null, NUL, Unicode
# digits, a container, beyond 64 bits, dates that overflow in UTC or have no zone.
NEVER_VALID = (
    "Infinity", "NaN", "1e400", "1.5", "true", "null", '"\\u0000"', '"²"', "[]",
    str(2**64), '"9999-12-31T23:59:59-14:00"', '"0001-01-01T00:00:00+14:00"',
    '"2026-01-01T00:00:00"',
)  # fmt: skip


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# Not even a position: bad base64, not ASCII, too long, not an object, no "p", the
# wrong number of values, nested past the limit.
GARBAGE = (
    "!!!", "é", "A" * 3000, _cursor("[]"), _cursor('{"p": "x"}'), _cursor("{}"),
    _cursor('{"p": [1, 2, 3, 4]}'), _cursor("[" * 5000), _cursor('{"p": [1], "r": {}}' * 2),
)  # fmt: skip


def position_cursors(size: int, real: list | None) -> list[str]:
    cursors = [_cursor('{"p": [' + ",".join([v] * size) + "]}") for v in NEVER_VALID]
    # A real position with one value of the other type: a number where a date belongs.
    for i, value in enumerate(real or []):
        swapped = list(real)
        swapped[i] = "2026-01-01T00:00:00+00:00" if isinstance(value, int) else 12
        cursors.append(_cursor(json.dumps({"p": swapped})))
    return cursors


def _first_page(probe: Probe, role: str, path: str, ordering: str | None):
    query = [("page_size", "1")] + ([("ordering", ordering)] if ordering else [])
    response = probe.send(role, "GET", path, query=query)
    page = response.json() if response is not None and response.status_code == 200 else None
    return page if isinstance(page, dict) and "results" in page else None


def _position(page: dict) -> list | None:
    if not page.get("next"):
        return None
    raw = page["next"].split("cursor=")[1].split("&")[0]
    return json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))["p"]


def test_crafted_cursors_are_400_on_every_list(probe):
    """Any cursor that is not one the API wrote, for each ordering of each paginated
    list, is a 400 naming ``cursor``; never OverflowError, TypeError or DataError."""
    lists, positions = set(), 0
    for role, _route, path, op in probe.api_reads():
        if "cursor" not in op.query:
            continue
        for i, ordering in enumerate(op.query.get("ordering", {}).get("enum") or [None]):
            page = _first_page(probe, role, path, ordering)
            if page is None:  # not this role's to read, or not a paginated list
                break
            lists.add(path)
            real = _position(page)
            positions += real is not None
            crafted = position_cursors(len(real), real) if real else []
            for cursor in crafted + (list(GARBAGE) if i == 0 else []):
                query = [("cursor", cursor)] + ([("ordering", ordering)] if ordering else [])
                probe.send(role, "GET", path, query=query, expect={400}, fields=["cursor"])
    assert len(lists) >= 12, sorted(lists)
    assert positions >= 2 * len(lists), positions  # real cursors to twist, not just garbage
    probe.check(minimum=600)


# -- 11: Unicode digits ---------------------------------------------------------------

# ``²`` passes str.isdigit and int() refuses it; ``٣`` and ``１`` pass int(); the rest
# are what int() forgives and a strict parser must not.
DIGITS = ("²", "٣", "１", "1²", "-1", "+1", " 1", "1_0")


def test_unicode_digits_are_400_or_ignored(probe):
    """Every number a client sends is parsed once, ASCII digits only (page sizes,
    If-Match, ``version``: 400 naming it); ids in paths, bodies, forms and query
    strings are refused or ignored, never a 500."""
    for role, _route, path, op in probe.api_reads():
        strict_page_size = "page_size" in op.query and probe.paginated(role, path)
        for name, schema in op.query.items():
            strict = strict_page_size if name == "page_size" else is_integer(schema)
            for digits in DIGITS if name == "page_size" else DIGITS[:1]:
                probe.send(
                    role, "GET", path, query=[(name, digits)],
                    expect=ANY_4XX if strict else None,
                    fields=[name] if strict and name == "page_size" else [],
                )  # fmt: skip
    for role, route, _path in probe.each_route():
        # Not found (or refused first); a page sends the anonymous to sign in; the
        # admin site answers an unknown object with a redirect and a message.
        expect = None if route.is_admin else ANY_4XX | {302} if role == "anonymous" else ANY_4XX
        for name in route.kwargs:
            probe.send(
                role, route.methods[0], route.path(probe.world, **{name: "²"}), expect=expect
            )
    for role, _route, path, method, op in probe.api_writes():
        if "If-Match" in op.headers:
            for digits in DIGITS:
                probe.send(
                    role, method, path, headers={"If-Match": f'"{digits}"'}, body="{}",
                    content_type="application/json", expect=ANY_4XX, fields=["If-Match"],
                )  # fmt: skip
            probe.send(
                role, method, path, body=json.dumps({"version": "²"}),
                content_type="application/json", expect=ANY_4XX, fields=["version"],
            )  # fmt: skip
        if op.body:
            if takes_json(op):
                body = json.dumps(dict.fromkeys(op.body, "²"))
                probe.send(
                    role, method, path, body=body, content_type="application/json",
                    expect=ANY_4XX if has_integer_field(op) else None,
                )  # fmt: skip
            for body, content_type in form_bodies(op, "²")[:1]:
                probe.send(
                    role, method, path, body=body, content_type=content_type,
                    expect=ANY_4XX if has_integer_field(op) else None,
                )  # fmt: skip
    for _role, label, send in each_form(probe, "²", one_by_one=True):
        send(what=label)
    for role, path, query in each_link(probe, DIGITS[:2]):
        probe.send(role, "GET", path, query=query)
    probe.check(minimum=800)
