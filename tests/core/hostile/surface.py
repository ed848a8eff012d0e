"""The attack surface, discovered rather than listed.

- every route in the URL conf (``django.urls.get_resolver``), made a real address with
  a real ticket number, article number, id... from a small world of data;
- each API operation's query, header and body fields from the OpenAPI schema;
- the forms, HTMX requests and links the HTML pages render, crawled as each role.

A new route, form field or query parameter is covered without touching the tests; a
route with a path parameter this module has no value for fails loudly (``kwarg_value``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, quote, urljoin, urlsplit

from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

from mainspring.core import services as core_services
from mainspring.core.models import BackgroundTask, Channel, TaskStatus
from mainspring.core.tasks import prune_finished_tasks
from mainspring.identity import services as identity_services
from mainspring.identity.models import Role
from mainspring.incidents import services as incident_services
from mainspring.incidents.models import ResolutionCode
from mainspring.knowledge import services as knowledge_services
from mainspring.knowledge.models import KnowledgeReviewer
from mainspring.problems import services as problem_services
from mainspring.sla.models import BusinessCalendar, SlaDefinition
from mainspring.sla.recompute import request_recompute

from ...factories import CategoryFactory, GroupFactory, UserFactory, add_member

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x03\x00\x08\xfc\x02\xfe\xa7"
    b"\x9a\xa0\xa0\x00\x00\x00\x00IEND\xaeB`\x82"
)


# -- the world ------------------------------------------------------------------------


@dataclass
class World:
    """One of everything a route can point at, made through the services."""

    users: dict[str, Any]
    incident: Any
    resolved: Any
    article: Any
    attachment_key: str
    article_attachment_key: str
    objects: dict[str, Any] = field(default_factory=dict)


def build_world() -> World:
    requester = UserFactory(username="alice", role=Role.REQUESTER)
    agent = UserFactory(username="agent", role=Role.AGENT)
    manager = UserFactory(username="manager", role=Role.MANAGER)
    admin = UserFactory(username="admin", role=Role.ADMIN, is_superuser=True, is_staff=True)
    group = GroupFactory(name="Service Desk")
    add_member(group, agent)
    add_member(group, manager, manager=True)
    KnowledgeReviewer.objects.create(user=manager)
    category = CategoryFactory(name="Network")
    subcategory = CategoryFactory(name="VPN", parent=category)
    calendar = BusinessCalendar.objects.create(
        name="Always", hours={str(d): [["00:00", "24:00"]] for d in range(7)}
    )
    sla = SlaDefinition.objects.create(
        name="Resolve in a day", target="resolution", duration_seconds=86400, calendar=calendar
    )
    incident = incident_services.create_incident(
        by=requester, title="VPN down", description="Since this morning.", category=category
    )
    core_services.add_watcher(incident, by=agent, user=agent)
    core_services.add_journal_entry(
        incident, by=agent, kind="comment", body="Looking", channel=Channel.UI
    )
    attachment, _ = (
        core_services.add_attachment(
            incident, by=requester, upload=SimpleUploadedFile(n, b"a line")
        )
        for n in ("log.txt", "more.txt")
    )
    resolved = incident_services.create_incident(by=requester, title="Printer jam")
    incident_services.transition(
        resolved,
        "resolve",
        by=agent,
        code=ResolutionCode.objects.get(code="solved"),
        notes="Cleared the jam",
    )
    article = knowledge_services.create_article(
        by=agent, title="Reset the VPN", summary="How", body="Steps", category=category
    )
    article_file, _ = (
        knowledge_services.add_article_attachment(
            article, by=agent, upload=SimpleUploadedFile(n, PNG)
        )
        for n in ("dot.png", "dot2.png")
    )
    knowledge_services.create_article(by=agent, title="Draft", summary="", body="")
    article = knowledge_services.publish(article, by=manager)
    token, _ = identity_services.create_api_token(agent, "script")
    identity_services.create_api_token(agent, "backup")
    GroupFactory(name="Network team")
    other_calendar = BusinessCalendar.objects.create(
        name="Office", hours={"0": [["09:00", "17:00"]]}
    )
    SlaDefinition.objects.create(
        name="Respond in an hour", target="response", duration_seconds=3600, calendar=other_calendar
    )
    view = core_services.save_view(by=agent, name="Mine", query="assignee=me")
    problem = problem_services.create(by=agent, title="VPN drops", incidents=[incident])
    recompute = request_recompute(by=admin, definition=sla)
    request_recompute(by=admin, calendar=other_calendar)
    # A dead-lettered background task for /api/v1/tasks/{id}/ and its retry.
    dead_task = BackgroundTask.objects.get(pk=prune_finished_tasks.enqueue().id)
    BackgroundTask.objects.filter(pk=dead_task.pk).update(
        status=TaskStatus.DEAD, attempts=8, last_error="RuntimeError: boom"
    )
    return World(
        users={"requester": requester, "agent": agent, "admin": admin},
        incident=incident,
        resolved=resolved,
        article=article,
        attachment_key=str(attachment.storage_key),
        article_attachment_key=str(article_file.storage_key),
        objects={
            "category": category,
            "subcategory": subcategory,
            "group": group,
            "calendar": calendar,
            "sla": sla,
            "recompute": recompute,
            "token": token,
            "view": view,
            "user": agent,
            "task": dead_task,
            "problem": problem,
        },
    )


# -- routes ---------------------------------------------------------------------------

_PARAM = re.compile(
    r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>|\(\?P<(?P<rname>\w+)>(?:[^()]|\([^()]*\))*\)"
)

# What a ``pk`` or ``object_id`` points at, by the collection it follows.
_COLLECTIONS = {
    "categories": "category",
    "groups": "group",
    "tokens": "token",
    "calendars": "calendar",
    "slas": "sla",
    "sla-recomputes": "recompute",
    "account/tokens": "token",
    "tasks": "task",
}


@dataclass(frozen=True)
class Route:
    """A URL pattern, its view and the HTTP methods it answers."""

    route: str  # the concatenated pattern, e.g. "api/v1/^incidents/(?P<number>...)/$"
    name: str
    callback: Any
    methods: tuple[str, ...]

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/v1/")

    @property
    def is_admin(self) -> bool:
        return self.route.startswith("admin/")

    @property
    def kwargs(self) -> list[str]:
        return [m["name"] or m["rname"] for m in _PARAM.finditer(self.route)]

    def path(self, world: World, **override: str) -> str:
        """A real address; ``override`` replaces path parameters (percent-encoded)."""

        def value(match: re.Match) -> str:
            name = match["name"] or match["rname"]
            raw = override[name] if name in override else kwarg_value(world, self.route, name)
            return quote(raw, safe="/")

        path = _PARAM.sub(value, self.route)
        return "/" + path.replace("^", "").replace("$", "")

    @property
    def schema_path(self) -> str:
        """How the OpenAPI schema names it: ``/api/v1/incidents/{number}/``."""

        def name(match: re.Match) -> str:
            param = match["name"] or match["rname"]
            return "{id}" if param == "pk" else "{" + param + "}"

        return "/" + _PARAM.sub(name, self.route).replace("^", "").replace("$", "")


def kwarg_value(world: World, route: str, name: str) -> str:
    """A real value for path parameter ``name`` of ``route``."""
    knowledge = ("knowledge/" in route and "incident/" not in route) or "articles" in route
    if name == "number":
        if "problems" in route:
            return world.objects["problem"].number
        return world.article.number if knowledge else world.incident.number
    if name == "incident":
        return world.incident.number
    if name == "article_number":
        return world.article.number
    if name == "key":
        return world.article_attachment_key if knowledge else world.attachment_key
    if name == "code":
        return "solved"
    if name == "username":
        return world.users["agent"].username
    if name == "name":
        return "retire" if knowledge else "start"
    if name == "view_id":
        return str(world.objects["view"].pk)
    if name == "app_label":
        return "incidents"
    if name == "url":
        return "nothing-here/"
    if name == "content_type_id":
        return str(ContentType.objects.get_for_model(world.objects["category"]).pk)
    if name in ("pk", "object_id", "id"):
        admin = re.match(r"admin/(\w+)/(\w+)/", route)
        if admin:
            model = ContentType.objects.get_by_natural_key(*admin.groups()).model_class()
            obj = model.objects.order_by("pk").first()
            return str(obj.pk) if obj is not None else "1"
        if route.startswith("admin/r/"):
            return str(world.objects["category"].pk)
        for collection, key in sorted(_COLLECTIONS.items(), key=lambda kv: -len(kv[0])):
            if collection in route:
                return str(world.objects[key].pk)
    raise KeyError(f"No value for path parameter {name!r} of {route!r}: add one to surface.py")


def _methods(callback) -> tuple[str, ...]:
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset route
        return tuple(sorted(m.upper() for m in actions if m not in ("head", "options")))
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is not None:
        return tuple(
            m.upper()
            for m in view_class.http_method_names
            if m not in ("head", "options") and hasattr(view_class, m)
        )
    return ("GET", "POST")  # a function view: its decorators answer 405 for the rest


@functools.cache
def routes() -> tuple[Route, ...]:
    """Every route in the URL conf, except DRF's ``.json`` format-suffix twins."""
    found: list[Route] = []

    def walk(patterns, prefix: str, namespace: str) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                ns = f"{namespace}:{p.namespace}" if p.namespace else namespace
                walk(p.url_patterns, route, ns)
            elif isinstance(p, URLPattern) and "(?P<format>" not in route:
                name = f"{namespace}:{p.name}".strip(":") if p.name else route
                found.append(Route(route, name, p.callback, _methods(p.callback)))

    walk(get_resolver().url_patterns, "", "")
    return tuple(found)


# -- the API's operations -------------------------------------------------------------


@dataclass
class Operation:
    method: str
    path: str
    query: dict[str, dict] = field(default_factory=dict)  # name -> JSON schema
    headers: list[str] = field(default_factory=list)
    body: dict[str, dict] | None = None  # JSON body properties, if it takes one
    multipart: bool = False


@functools.cache
def operations() -> dict[tuple[str, str], Operation]:
    """(METHOD, schema path) -> Operation, from the OpenAPI schema the API serves."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]

    def deref(node: dict) -> dict:
        ref = node.get("$ref")
        return components[ref.rsplit("/", 1)[1]] if ref else node

    ops: dict[tuple[str, str], Operation] = {}
    for path, items in schema["paths"].items():
        for method, op in items.items():
            operation = Operation(method.upper(), path)
            for param in op.get("parameters", []):
                if param["in"] == "query":
                    operation.query[param["name"]] = param.get("schema", {})
                elif param["in"] == "header":
                    operation.headers.append(param["name"])
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                operation.body = dict(
                    deref(content["application/json"]["schema"]).get("properties", {})
                )
            elif "multipart/form-data" in content:
                operation.multipart = True
                operation.body = dict(
                    deref(content["multipart/form-data"]["schema"]).get("properties", {})
                )
            ops[operation.method, path] = operation
    # A collection's create takes what its items' update takes, even where the schema
    # does not say so (docs/api.md lists the fields).
    for (method, path), operation in ops.items():
        if method == "POST" and operation.body is None and "{" not in path:
            for (other_method, other_path), other in ops.items():
                if (
                    other_method in ("PATCH", "PUT")
                    and other.body
                    and re.fullmatch(re.escape(path) + r"\{\w+\}/", other_path)
                ):
                    operation.body = dict(other.body)
    return ops


def operation(route: Route, method: str) -> Operation:
    return operations().get((method, route.schema_path)) or Operation(method, route.schema_path)


# -- the HTML pages' forms and links ----------------------------------------------------


@dataclass
class Form:
    """A request a page can make: where, how, and each field's default value."""

    action: str
    method: str
    multipart: bool
    fields: list[tuple[str, str]]  # (name, default), in document order
    choices: set[str] = field(default_factory=set)  # names whose value picks a branch or an id

    @property
    def names(self) -> list[str]:
        return [n for n in dict(self.fields) if n != "csrfmiddlewaretoken"]


class _PageParser(HTMLParser):
    """Forms, HTMX requests (``hx-get``/``hx-post`` on any element) and links."""

    def __init__(self, base: str):
        super().__init__(convert_charrefs=True)
        self.base = base
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._open: list[tuple[str, Form]] = []  # (tag, form) being filled
        self._select: tuple[str, list[str]] | None = None
        self._textarea: str | None = None
        self._text = ""

    def _add(self, name: str, value: str, choice: bool = False) -> None:
        for _, form in self._open:
            form.fields.append((name, value))
            if choice:
                form.choices.add(name)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        target = a.get("hx-post") or a.get("hx-get") or (a.get("action") if tag == "form" else None)
        if tag == "form" or "hx-post" in a or "hx-get" in a:
            method = (
                "POST"
                if "hx-post" in a
                else "GET"
                if "hx-get" in a
                else a.get("method", "get").upper()
            )
            form = Form(
                urljoin(self.base, target if target is not None else ""),
                method,
                "multipart" in a.get("enctype", "") or "multipart" in a.get("hx-encoding", ""),
                [],
            )
            self.forms.append(form)
            if tag not in ("input", "button", "a"):
                self._open.append((tag, form))
        if tag == "a" and "?" in a.get("href", ""):
            self.links.append(urljoin(self.base, a["href"]))
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind == "submit":
                return
            value = a.get("value", "on" if kind in ("checkbox", "radio") else "")
            numeric = value.isascii() and value.isdecimal()
            self._add(name, value, kind in ("checkbox", "radio", "hidden", "number") or numeric)
        elif tag == "button" and name:
            self._add(name, a.get("value", ""), True)
        elif tag == "select" and name:
            self._select = (name, [])
        elif tag == "option" and self._select is not None:
            self._select[1].append(a.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_data(self, data):
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None:
            name, options = self._select
            self._add(name, next((o for o in options if o), ""), True)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self._add(self._textarea, self._text)
            self._textarea = None
        elif self._open and self._open[-1][0] == tag:
            self._open.pop()


_OUR_APPS = ("core", "identity", "incidents", "knowledge", "notifications", "portal", "sla")


def _our_admin_page(route: Route) -> bool:
    """The admin pages with our models' forms: list, add, change (Django's own admin
    pages and third-party models still get the path, query and header probes)."""
    match = re.match(r"admin/(\w+)/\w+/(.*)$", route.route)
    return (
        bool(match)
        and match[1] in _OUR_APPS
        and match[2] in ("", "add/", "<path:object_id>/change/")
    )


def same_site_path(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.netloc not in ("", "testserver") or not parts.path.startswith("/"):
        return None
    return parts.path


def crawl(
    client, world: World, role: str
) -> tuple[list[Form], list[tuple[str, list[tuple[str, str]]]]]:
    """The forms and query-string links of every HTML page ``role`` may open."""
    forms: dict[tuple, Form] = {}
    links: dict[tuple, tuple[str, list[tuple[str, str]]]] = {}
    for route in routes():
        # The admin crawls the admin site; elsewhere it sees what an agent sees.
        if "GET" not in route.methods or route.is_admin != (role == "admin"):
            continue
        if route.route.startswith("api/") or route.name in ("healthz", "readyz"):
            continue
        if route.is_admin and not _our_admin_page(route):
            continue
        for parser in _pages_of(client, world, route):
            _collect(parser, forms, links)
    return list(forms.values()), list(links.values())


def _pages_of(client, world: World, route: Route) -> Iterable[_PageParser]:
    """The route's page for the world's open incident, and for its resolved one (whose
    pages offer other forms: reopen, confirm)."""
    pages = [route.path(world)]
    if "number" in route.kwargs and world.incident.number in pages[0]:
        pages.append(route.path(world, number=world.resolved.number))
    for page in pages:
        with transaction.atomic():
            response = client.get(page)
            transaction.set_rollback(True)
        if response.status_code == 200 and "html" in response.get("Content-Type", ""):
            parser = _PageParser("http://testserver" + page)
            parser.feed(response.content.decode("utf-8", "replace"))
            yield parser


def _collect(parser: _PageParser, forms: dict, links: dict) -> None:
    for form in parser.forms:
        path = same_site_path(form.action)
        if path is None:
            continue
        try:
            view = resolve(path).view_name
        except Resolver404:
            continue
        form.action = path
        # The same form for another ticket adds nothing.
        forms.setdefault((view, form.method, tuple(n for n, _ in form.fields)), form)
    for link in parser.links:
        path = same_site_path(link)
        query = parse_qsl(urlsplit(link).query, keep_blank_values=True)
        if path is None or not query:
            continue
        links.setdefault((path, tuple(n for n, _ in query)), (path, query))
