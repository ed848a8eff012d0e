"""Shared REST API pieces: the error shape, pagination, ETags and idempotent creates.

Every error answers ``{"error": {"code", "message", "fields"}}`` (DESIGN.md). Domain
exceptions from services map to status codes here, once, for every practice.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from mainspring.identity.policy import Forbidden, NotVisible

from .models import IdempotencyRecord
from .services import AttachmentTooLarge, StaleVersion, TicketValidationError
from .states import InvalidTransition

log = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with our own code and optional field messages."""

    def __init__(self, status_code: int, code: str, message: str, fields: dict | None = None,
                 extra: dict | None = None):
        self.status_code = status_code
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.extra = extra or {}
        super().__init__(message)


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
    if isinstance(exc, ApiError):
        return Response(
            error_body(exc.code, exc.message, exc.fields, **exc.extra), status=exc.status_code
        )
    if isinstance(exc, (NotVisible, Http404)):
        return Response(error_body("not_found", "Not found."), status=404)
    if isinstance(exc, Forbidden):
        return Response(
            error_body("forbidden", str(exc) or "You may not do this."), status=403
        )
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
    """The version a client based its change on: ``If-Match`` or ``version`` in the body."""
    header = request.headers.get("If-Match")
    if header:
        value = header.strip()
        if value.startswith("W/"):
            value = value[2:]
        value = value.strip('"')
        if not value.isdigit():
            raise ApiError(400, "invalid", "If-Match must be an ETag from this API.",
                           {"If-Match": ["Use the ETag of the ticket you read."]})
        return int(value)
    data = request.data if hasattr(request, "data") else {}
    if isinstance(data, dict) and "version" in data:
        try:
            return int(data["version"])
        except (TypeError, ValueError) as exc:
            raise ApiError(400, "invalid", "Invalid input.",
                           {"version": ["A whole number."]}) from exc
    return None


class IdempotentCreateMixin:
    """``Idempotency-Key`` on POST creates: a retry replays the first answer.

    The key is scoped to the user and the endpoint. The same key with a different body
    is a conflict (422 in Stripe; 409 here, our conflict status).
    """

    def create(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if not key:
            return super().create(request, *args, **kwargs)
        if len(key) > 200:
            raise ApiError(400, "invalid", "Idempotency-Key is at most 200 characters.",
                           {"Idempotency-Key": ["Too long."]})
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
                response = super().create(request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    IdempotencyRecord.objects.create(
                        user=request.user, endpoint=endpoint, key=key,
                        request_hash=body_hash, status_code=response.status_code,
                        response=json.loads(json.dumps(response.data, default=str)),
                    )
        except IntegrityError:
            # A concurrent twin committed first: answer what it answered.
            existing = IdempotencyRecord.objects.get(
                user=request.user, endpoint=endpoint, key=key
            )
            return self._replay(existing, body_hash)
        return response

    def _replay(self, record: IdempotencyRecord, body_hash: str) -> Response:
        if record.request_hash != body_hash:
            raise ApiError(409, "idempotency_conflict",
                           "This Idempotency-Key was used with a different request.")
        response = Response(record.response, status=record.status_code)
        response["Idempotent-Replayed"] = "true"
        return response

