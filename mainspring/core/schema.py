"""The OpenAPI schema says exactly what the API answers, errors included.

drf-spectacular describes the happy path it can see in serializers; this module adds,
once for every operation, the 4xx answers the shared machinery gives, all in the one
error shape (DESIGN.md) as the ``Error`` component:

- 400 where a body, a query or a header parameter is read;
- 401 where credentials are required, 403 where a permission, the policy or (for a
  session) the CSRF check can refuse;
- 404 where a path names an object;
- 409 where an ``Idempotency-Key`` is read, 412 where ``If-Match`` is read;
- 413 and 415 where a body is read (size limit, media types other than the documented);
- 429 where requests are throttled.

Statuses only some views answer (409 for a refused state transition, 403 from a policy
check inside a read) are declared on the view with ``extend_schema``; they get the
``Error`` body here too. Read-only serializer fields are required in answers unless the
serializer names them in ``optional_fields`` (fields some roles never receive).

Settings point ``DEFAULT_SCHEMA_CLASS`` here. Nothing in this module runs per request.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter
from rest_framework import permissions, serializers

__all__ = ["ERROR_COMPONENT", "IDEMPOTENCY_KEY", "IF_MATCH", "AutoSchema"]

ERROR_COMPONENT = "Error"

IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description='The ETag you read ("7"); a stale one answers 412 and changes nothing.',
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Any unique string (≤200 chars); a retry with it replays the first answer "
    "(header `Idempotent-Replayed: true`); the same key with another body is a 409.",
)

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error answer: what went wrong, and for bad input, where.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {
                    "type": "string",
                    "description": "Stable, for programs: invalid, not_authenticated, "
                    "forbidden, not_found, invalid_transition, idempotency_conflict, "
                    "conflict, stale_version, too_large, unsupported_media_type, "
                    "throttled, …",
                },
                "message": {"type": "string", "description": "For people."},
                "fields": {
                    "type": "object",
                    "description": "Input name → its problems (a list of messages; "
                    "for lists and nested objects, the same shape inside).",
                    "additionalProperties": {
                        "anyOf": [{"type": "array", "items": {}}, {"type": "object"}]
                    },
                },
                "allowed": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "invalid_transition: the transitions allowed now.",
                },
                "state": {
                    "type": "string",
                    "description": "invalid_transition: the current state.",
                },
                "current_version": {
                    "type": "integer",
                    "description": "stale_version: the version to re-read and retry with.",
                },
                "job": {
                    "type": "integer",
                    "description": "conflict on a recompute: the job already queued.",
                },
            },
        }
    },
}

_DESCRIPTIONS = {
    400: "Invalid input: `error.fields` names each problem.",
    401: "No credentials, or an unknown or revoked token.",
    403: "You may not do this (a session without its CSRF token is refused too).",
    404: "No such object, or not yours to see: the two are indistinguishable.",
    409: "Conflict: an `Idempotency-Key` reused with a different request.",
    412: "`If-Match` names an old version (`error.current_version` is the current one); "
    "nothing was changed.",
    413: "The request body is over the size limit.",
    415: "The body is not in a media type this operation accepts.",
    429: "Too many attempts; try again later.",
}

# Some character Python's str.strip() keeps: \s is not the same set in every regex
# engine (Python's adds \x1c-\x1f and \x85, ECMA's adds \ufeff), so name them.
NOT_BLANK = "[^\\s\\x1c-\\x1f\\x85]|\\ufeff"

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_SAFE_METHODS = frozenset(permissions.SAFE_METHODS)
# Permissions that never refuse an authenticated user (anonymous ones get 401).
_NEVER_REFUSE = (permissions.IsAuthenticated, permissions.AllowAny)


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema plus the error answers each operation can really give."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        self._register_error_component()
        responses = operation["responses"]
        for status in sorted(self._error_statuses(operation)):
            responses.setdefault(str(status), {"description": _DESCRIPTIONS[status]})
        for code, response in responses.items():
            if code.startswith("4") and "content" not in response:
                response["content"] = {
                    "application/json": {"schema": {"$ref": _ref(ERROR_COMPONENT)}}
                }
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request":
            # Every write path refuses fields it does not know (core.api.reject_unknown).
            schema["additionalProperties"] = False
        optional = getattr(serializer, "optional_fields", ())
        if optional and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in optional]
            if not schema["required"]:
                del schema["required"]
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(schema, dict)
            and isinstance(field, serializers.CharField)
            and field.trim_whitespace
            and not field.allow_blank
            and schema.get("type") == "string"
            and "pattern" not in schema
            and "format" not in schema
            and "enum" not in schema
        ):
            # DRF strips a CharField's value before "may not be blank": a value of
            # spaces only is refused, so say that a non-space character is needed.
            schema["pattern"] = NOT_BLANK
        return schema

    # -- which errors ------------------------------------------------------------------
    def _error_statuses(self, operation: dict) -> set[int]:
        parameters = operation.get("parameters", [])
        where = {p["in"] for p in parameters}
        headers = {p["name"] for p in parameters if p["in"] == "header"}
        reads_body = self.method in _BODY_METHODS
        statuses: set[int] = set()
        if reads_body or "query" in where or headers:
            statuses.add(400)
        if _needs_credentials(operation):
            statuses.add(401)
            if self._may_refuse(operation):
                statuses.add(403)
        if "path" in where:
            statuses.add(404)
        if "Idempotency-Key" in headers:
            statuses.add(409)
        if "If-Match" in headers:
            statuses.add(412)
        if reads_body:
            statuses.update((413, 415))
        if getattr(self.view, "throttle_classes", None):
            statuses.add(429)
        return statuses

    def _may_refuse(self, operation: dict) -> bool:
        if self.method not in _SAFE_METHODS and _has_scheme(operation, "cookieAuth"):
            return True  # SessionAuthentication's CSRF check
        for permission in getattr(self.view, "permission_classes", ()):
            if issubclass(permission, _NEVER_REFUSE):
                continue
            if self.method in _SAFE_METHODS and getattr(permission, "reads_always_allowed", False):
                continue
            return True
        return False

    def _register_error_component(self) -> None:
        self.registry.register_on_missing(
            ResolvedComponent(
                name=ERROR_COMPONENT,
                type=ResolvedComponent.SCHEMA,
                schema=_ERROR_SCHEMA,
                object=ERROR_COMPONENT,
            )
        )


def _ref(name: str) -> str:
    return f"#/components/schemas/{name}"


def _needs_credentials(operation: dict) -> bool:
    security = operation.get("security") or []
    return bool(security) and {} not in security


def _has_scheme(operation: dict, name: str) -> bool:
    return any(name in requirement for requirement in operation.get("security") or [])
