"""Shared REST API pieces: the error shape, pagination, ETags and idempotent creates.

This module is DRF's DEFAULT_PAGINATION_CLASS home, so it must not import DRF's views
or drf-spectacular at import time (circular import); the ticket sub-resources that
need them live in ``core.api_tickets``.

Every error answers ``{"error": {"code", "message", "fields"}}`` (DESIGN.md). Domain
exceptions from services map to status codes here, once, for every practice.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.http import Http404
from django.utils.dateparse import parse_datetime
from rest_framework import exceptions
from rest_framework.pagination import BasePagination, CursorPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import exception_handler as drf_exception_handler

from mainspring.identity.policy import Forbidden, NotVisible

from .middleware import RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE, is_database_outage
from .models import IdempotencyRecord
from .parsing import MAX_INT, load_json, parse_int, text_problem
from .services import AttachmentTooLarge, StaleVersion, TicketValidationError
from .states import InvalidTransition

log = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with our own code and optional field messages."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        fields: dict | None = None,
        extra: dict | None = None,
    ):
        self.status_code = status_code
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.extra = extra or {}
        super().__init__(message)


class FieldsBuiltOnce:
    """Serializer mixin: build the field objects once per class, not per instance.

    DRF deep-copies every declared field (and a ModelSerializer rebuilds its fields
    from the model) for each serializer instance: 0.2-0.5 ms on a single-ticket
    response or create, more than the database work of a read. The fields here keep
    no per-request state until ``bind``, which sets attributes on the copy, so each
    instance gets shallow copies of fields built the first time. Use it only on
    serializers whose fields take nothing from a request at construction (no
    ``context``-dependent querysets).
    """

    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_fields_built_once")
        if built is None:
            built = super().get_fields()
            cls._fields_built_once = built
        return {name: copy.copy(field) for name, field in built.items()}


def error_body(code: str, message: str, fields: dict | None = None, **extra: Any) -> dict:
    body = {"code": code, "message": message, "fields": fields or {}}
    body.update(extra)
    return {"error": body}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(x, (dict, list)) for x in detail):
            return [str(x) for x in detail]
        return [_flatten(x) for x in detail]
    return [str(detail)]


_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "stale_version",
    413: "too_large",
    415: "unsupported_media_type",
    428: "precondition_required",
    429: "throttled",
}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Map service and DRF exceptions to the one error shape."""
    if is_database_outage(exc):
        log.error("Database unavailable: %r", exc)
        return Response(
            error_body("unavailable", UNAVAILABLE_MESSAGE),
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, ApiError):
        return Response(
            error_body(exc.code, exc.message, exc.fields, **exc.extra), status=exc.status_code
        )
    if isinstance(exc, (NotVisible, Http404)):
        return Response(error_body("not_found", "Not found."), status=404)
    if isinstance(exc, Forbidden):
        return Response(error_body("forbidden", str(exc) or "You may not do this."), status=403)
    if isinstance(exc, InvalidTransition):
        return Response(
            error_body("invalid_transition", str(exc), allowed=exc.allowed, state=exc.state),
            status=409,
        )
    if isinstance(exc, StaleVersion):
        return Response(
            error_body("stale_version", str(exc), current_version=exc.current), status=412
        )
    if isinstance(exc, TicketValidationError):
        return Response(error_body("invalid", str(exc), exc.fields), status=400)
    if isinstance(exc, AttachmentTooLarge):
        return Response(error_body("too_large", str(exc), {"file": [str(exc)]}), status=413)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field": exc.messages}
        return Response(error_body("invalid", "Invalid input.", fields), status=400)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = _CODES.get(response.status_code, "error")
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        if not isinstance(fields, dict):
            fields = {"non_field": fields}
        response.data = error_body(code, "Invalid input.", fields)
    else:
        detail = getattr(exc, "detail", None)
        message = str(detail) if detail else response.status_text
        response.data = error_body(code, message)
    return response


class NumberCursorPagination(CursorPagination):
    """Keyset pagination on the primary key: page N costs what page 1 costs, no COUNT."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-id"


def etag_for(version: int) -> str:
    return f'"{version}"'


def parse_if_match(request) -> int | None:
    """The version a client based its change on: ``If-Match`` or ``version`` in the body.

    ``If-Match: *`` is RFC 9110's "any current representation": the ticket must exist
    (the lookup before this already answered 404 if not) and no version is checked.
    """
    header = request.headers.get("If-Match")
    if header:
        value = header.strip()
        if value == "*":
            return None
        if value.startswith("W/"):
            value = value[2:]
        version = parse_int(value.strip('"'), minimum=1)
        if version is None:
            raise ApiError(
                400,
                "invalid",
                "If-Match must be an ETag from this API.",
                {"If-Match": ["Use the ETag of the ticket you read, or *."]},
            )
        return version
    data = request.data if hasattr(request, "data") else {}
    if isinstance(data, dict) and "version" in data:
        version = parse_int(data["version"], minimum=1)
        if version is None:
            raise ApiError(400, "invalid", "Invalid input.", {"version": ["A whole number."]})
        return version
    return None


class IdempotentCreateMixin:
    """``Idempotency-Key`` on POST creates: a retry replays the first answer.

    The key is scoped to the user and the endpoint. The same key with a different body
    is a conflict (422 in Stripe; 409 here, our conflict status).

    The mixin wraps the ``create`` its class resolves to (its own or an inherited one)
    rather than overriding it, so that create's ``extend_schema`` (request body,
    responses) stays what the OpenAPI schema shows, with the ``Idempotency-Key``
    header added; the schema derives the 409 from that header (``core.schema``).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        create = cls.__dict__.get("create") or getattr(cls, "create", None)
        if create is None or getattr(create, "_idempotent", False):
            return
        cls.create = _idempotent(create)

    def _idempotent_create(self, create, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if not key:
            return create(self, request, *args, **kwargs)
        if len(key) > 200:
            raise ApiError(
                400,
                "invalid",
                "Idempotency-Key is at most 200 characters.",
                {"Idempotency-Key": ["Too long."]},
            )
        endpoint = request.path
        body_hash = hashlib.sha256(
            json.dumps(request.data, sort_keys=True, default=str).encode()
        ).hexdigest()
        existing = IdempotencyRecord.objects.filter(
            user=request.user, endpoint=endpoint, key=key
        ).first()
        if existing is not None:
            return self._replay(existing, body_hash)
        try:
            with transaction.atomic():
                response = create(self, request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    IdempotencyRecord.objects.create(
                        user=request.user,
                        endpoint=endpoint,
                        key=key,
                        request_hash=body_hash,
                        status_code=response.status_code,
                        response=json.loads(json.dumps(response.data, default=str)),
                    )
        except IntegrityError:
            # A concurrent twin committed first: answer what it answered.
            existing = IdempotencyRecord.objects.get(user=request.user, endpoint=endpoint, key=key)
            return self._replay(existing, body_hash)
        return response

    def _replay(self, record: IdempotencyRecord, body_hash: str) -> Response:
        if record.request_hash != body_hash:
            raise ApiError(
                409,
                "idempotency_conflict",
                "This Idempotency-Key was used with a different request.",
            )
        response = Response(record.response, status=record.status_code)
        response["Idempotent-Replayed"] = "true"
        if isinstance(record.response, dict) and "version" in record.response:
            response["ETag"] = etag_for(record.response["version"])
        return response


def _idempotent(create):
    """``create`` behind the Idempotency-Key check, keeping its schema annotations."""
    # drf-spectacular is imported here, not at module level: see the module docstring.
    from drf_spectacular.utils import extend_schema

    from .schema import IDEMPOTENCY_KEY

    def idempotent_create(self, request, *args, **kwargs):
        return self._idempotent_create(create, request, *args, **kwargs)

    idempotent_create.__name__ = "create"
    idempotent_create.__qualname__ = getattr(create, "__qualname__", "create")
    idempotent_create.__doc__ = create.__doc__
    idempotent_create._idempotent = True
    # ``extend_schema`` keeps a method's schema in ``kwargs``; extending a copy of it
    # adds the header and leaves the wrapped create's own annotation untouched.
    idempotent_create.kwargs = dict(getattr(create, "kwargs", {}))
    return extend_schema(parameters=[IDEMPOTENCY_KEY])(idempotent_create)


class KeysetPagination(BasePagination):
    """Keyset ("seek") pagination on a unique ordering, for any allowlisted sort.

    DRF's CursorPagination positions on the first ordering field only and falls back to
    an OFFSET among equal values, so sorting a million tickets by priority would cost
    more the deeper you page. Here the cursor holds every ordering value (the last one
    is always the primary key), so each page is one indexed range scan and no COUNT.

    Views declare ``ordering_choices`` ({"-priority": ("-priority", "id"), ...}) and
    ``default_ordering``; anything else in ``?ordering=`` is a 400.
    """

    page_size = 25
    max_page_size = 100
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"
    ordering_query_param = "ordering"
    default_ordering: tuple[str, ...] = ("-id",)

    def __init__(self) -> None:
        self.request = None
        self.next_cursor: str | None = None
        self.previous_cursor: str | None = None

    # -- request parsing ---------------------------------------------------------------
    def get_ordering(self, request, view) -> tuple[str, ...]:
        choices: dict[str, tuple[str, ...]] = getattr(view, "ordering_choices", None) or {}
        default = getattr(view, "default_ordering", None) or self.default_ordering
        raw = request.query_params.get(self.ordering_query_param)
        if raw is None or raw == "":
            return tuple(default)
        if raw not in choices:
            allowed = ", ".join(choices) or "none"
            raise ApiError(
                400, "invalid", "Unknown ordering.", {"ordering": [f"Use one of: {allowed}."]}
            )
        return tuple(choices[raw])

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        size = parse_int(raw, minimum=1, maximum=self.max_page_size)
        if size is None:
            raise ApiError(
                400,
                "invalid",
                "Invalid page size.",
                {"page_size": [f"A whole number from 1 to {self.max_page_size}."]},
            )
        return size

    def _decode(self, raw: str, model, ordering: tuple[str, ...]) -> tuple[list, bool]:
        """The position a cursor holds, each value typed by its ordering field.

        A cursor is ours but comes back from the client: anything that is not what
        ``_encode`` wrote (another type, infinity, a far-off date...) is a 400.
        """
        bad = ApiError(
            400,
            "invalid",
            "Invalid cursor.",
            {"cursor": ["Use the next or previous link of a page."]},
        )
        if len(raw) > _MAX_CURSOR:
            raise bad
        try:
            padded = raw + "=" * (-len(raw) % 4)
            data = load_json(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))
            values, reverse = data["p"], bool(data.get("r"))
        except (ValueError, KeyError, TypeError, UnicodeError) as exc:
            raise bad from exc
        if not isinstance(values, list) or len(values) != len(ordering):
            raise bad
        out = []
        for name, value in zip(ordering, values, strict=True):
            typed = _cursor_value(model._meta.get_field(name.lstrip("-")), value)
            if typed is None:
                raise bad
            out.append(typed)
        return out, reverse

    @staticmethod
    def _encode(obj, ordering: tuple[str, ...], reverse: bool) -> str:
        values = []
        for name in ordering:
            value = getattr(obj, name.lstrip("-"))
            values.append(value.isoformat() if hasattr(value, "isoformat") else value)
        raw = json.dumps({"p": values, "r": int(reverse)}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    # -- the page ----------------------------------------------------------------------
    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        ordering = self.get_ordering(request, view)
        size = self.get_page_size(request)
        raw_cursor = request.query_params.get(self.cursor_query_param)
        reverse = False
        if raw_cursor:
            position, reverse = self._decode(raw_cursor, queryset.model, ordering)
            queryset = queryset.filter(_after(ordering, position, reverse))
        effective = _flip(ordering) if reverse else ordering
        rows = list(queryset.order_by(*effective)[: size + 1])
        has_more = len(rows) > size
        rows = rows[:size]
        if reverse:
            rows.reverse()
        self.next_cursor = self.previous_cursor = None
        if rows:
            if reverse or has_more:
                self.next_cursor = self._encode(rows[-1], ordering, False)
            if (reverse and has_more) or (not reverse and raw_cursor):
                self.previous_cursor = self._encode(rows[0], ordering, True)
        return rows

    def _link(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, cursor)

    def get_paginated_response(self, data) -> Response:
        return Response(
            {
                "next": self._link(self.next_cursor),
                "previous": self._link(self.previous_cursor),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        params = [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque position from a page's next/previous link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page (1-{self.max_page_size}, default "
                f"{self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
        choices = getattr(view, "ordering_choices", None)
        if choices:
            params.append(
                {
                    "name": self.ordering_query_param,
                    "required": False,
                    "in": "query",
                    "description": "Sort order (allowlisted).",
                    "schema": {"type": "string", "enum": list(choices)},
                }
            )
        return params


# A cursor holds a few values; ours are well under 200 characters.
_MAX_CURSOR = 1000


def _cursor_value(field, value: Any) -> Any:
    """``value`` as ``field`` holds it, if it is what ``_encode`` writes; else None."""
    if isinstance(field, models.IntegerField):  # ids, priorities (AutoField is one too)
        return parse_int(value, minimum=-MAX_INT - 1)
    if isinstance(field, models.DateTimeField):
        if not isinstance(value, str) or len(value) > 40:
            return None
        try:
            moment = parse_datetime(value)
            # Aware, and within what every database stores once converted to UTC.
            if moment is None or moment.tzinfo is None:
                return None
            moment.astimezone(dt.UTC)
        except (ValueError, OverflowError):
            return None
        return moment
    if isinstance(value, str) and text_problem(value) is None and len(value) <= 200:
        try:
            return field.to_python(value)
        except DjangoValidationError:
            return None
    return None


def _flip(ordering: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name[1:] if name.startswith("-") else "-" + name for name in ordering)


def _after(ordering: tuple[str, ...], position: list, reverse: bool) -> Q:
    """Rows strictly after ``position`` in ``ordering`` (before it when ``reverse``).

    (a, b) after (x, y) is ``a > x OR (a = x AND b > y)``; the redundant ``a >= x`` in
    front lets the database start its index scan at x instead of filtering from the top.
    """
    ordering = _flip(ordering) if reverse else ordering
    condition = Q()
    equal = Q()
    for name, value in zip(ordering, position, strict=True):
        field = name.lstrip("-")
        op = "lt" if name.startswith("-") else "gt"
        condition |= equal & Q(**{f"{field}__{op}": value})
        equal &= Q(**{field: value})
    first = ordering[0]
    start = Q(**{f"{first.lstrip('-')}__{'lte' if first.startswith('-') else 'gte'}": position[0]})
    return start & condition


class StrictQueryParamsMixin:
    """List endpoints refuse query parameters they do not know (400, never ignored).

    A typo'd filter silently returning everything is how a client ends up acting on the
    wrong tickets; and only allowlisted names ever reach the ORM (SECURITY.md #20).
    """

    extra_query_params: frozenset[str] = frozenset({"cursor", "page_size", "ordering"})

    def check_query_params(self, request) -> None:
        allowed = set(self.extra_query_params)
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is not None:
            allowed |= set(filterset_class.base_filters)
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise ApiError(
                400,
                "invalid",
                "Unknown query parameter.",
                {name[:100]: ["Unknown query parameter."] for name in unknown[:20]},
            )

    def list(self, request, *args, **kwargs):
        self.check_query_params(request)
        return super().list(request, *args, **kwargs)


def require_object(data: Any) -> dict:
    """A JSON body must be an object; a list or a bare string is a 400, not a 500."""
    if hasattr(data, "dict") and not isinstance(data, dict):
        return data  # QueryDict from a form or multipart body
    if not isinstance(data, dict):
        raise ApiError(
            400, "invalid", "Send a JSON object.", {"non_field": ["Expected a JSON object."]}
        )
    return data


def reject_unknown(
    data: dict, known: set[str] | frozenset[str], read_only: set[str] | frozenset[str] = frozenset()
) -> None:
    """400 for keys a client may never send here, so nothing is dropped silently."""
    errors: dict[str, list[str]] = {}
    for name in data:
        if name in known:
            continue
        if name in read_only:
            errors[name] = ["This field is read-only."]
        else:
            errors[str(name)[:100]] = ["Unknown field."]
    if errors:
        raise ApiError(400, "invalid", "Invalid input.", errors)


class ChronologicalPagination(KeysetPagination):
    """Timelines (journal, audit, attachments) oldest first; no client ordering."""

    page_size = 50
    max_page_size = 200
    default_ordering = ("created_at", "id")

    def get_ordering(self, request, view) -> tuple[str, ...]:
        if request.query_params.get(self.ordering_query_param):
            raise ApiError(
                400,
                "invalid",
                "This list has a fixed order.",
                {"ordering": ["Not supported here."]},
            )
        return self.default_ordering

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            p
            for p in super().get_schema_operation_parameters(view)
            if p["name"] != self.ordering_query_param
        ]
