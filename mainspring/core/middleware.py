"""Cross-cutting HTTP rules: security headers, body limits, caching, database outages."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.html import escape

log = logging.getLogger(__name__)

# No inline script anywhere: HTMX and our own JS are files; styles are files too.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The interactive API docs (Swagger UI) need an inline bootstrap script.
DOCS_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Refuse oversized bodies before anything reads them (413, not a buffered upload).
        length = request.META.get("CONTENT_LENGTH")
        limit = settings.ATTACHMENT_MAX_BYTES + 1024 * 1024
        try:
            too_large = length is not None and int(length) > limit
        except ValueError:
            too_large = False
        if too_large:
            response: HttpResponse = _too_large(request)
        elif _chunked_without_length(request):
            response = _length_required(request)
        else:
            response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            docs = request.path.startswith("/api/docs")
            response["Content-Security-Policy"] = DOCS_CSP if docs else CSP
        response.setdefault("X-Content-Type-Options", "nosniff")
        response.setdefault("Referrer-Policy", "same-origin")
        return response


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "json" in request.headers.get("Accept", "")


def _too_large(request: HttpRequest) -> HttpResponse:
    """413 before the body is read: JSON for the API, a short page for a browser."""
    message = (
        f"The request is larger than the {settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)} MB "
        "limit. Nothing was saved."
    )
    if _wants_json(request):
        return JsonResponse(
            {"error": {"code": "too_large", "message": message, "fields": {}}}, status=413
        )
    return _plain_page(
        request, 413, "File too large", f"{message} Go back and choose a smaller file."
    )


def _chunked_without_length(request: HttpRequest) -> bool:
    # gunicorn decodes a chunked body but gives no CONTENT_LENGTH, and Django reads a body
    # without one as empty: the upload would vanish into "no file sent". Say why instead.
    encoding = request.META.get("HTTP_TRANSFER_ENCODING", "")
    return "chunked" in encoding.lower() and not request.META.get("CONTENT_LENGTH")


def _length_required(request: HttpRequest) -> HttpResponse:
    """411 for a chunked body: we need its length to refuse it (413) before reading it."""
    message = (
        "Send the body with a Content-Length header; chunked transfer encoding is not "
        "accepted. Nothing was saved."
    )
    if _wants_json(request):
        return JsonResponse(
            {"error": {"code": "length_required", "message": message, "fields": {}}}, status=411
        )
    return _plain_page(request, 411, "Length required", message)


def _plain_page(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    # Sessions and users are not loaded yet (this runs first), so no base template: a
    # plain page, or for htmx the fragment it swaps in where the form was.
    body = f'<p class="field-error" role="alert">{escape(message)}</p>'
    if not request.headers.get("HX-Request"):
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title></head><body><main><h1>{escape(title)}</h1>"
            f"{body}</main></body></html>"
        )
    return HttpResponse(body, status=status, content_type="text/html; charset=utf-8")


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every dynamic response that does not set its own.

    Pages and API answers carry private data (tickets, names, CSRF tokens): no proxy may
    keep them and the browser's back/forward cache must not show them after sign-out.
    Static files never get here (whitenoise answers above this middleware) and keep their
    caching. Decided without looking at the user, so it never touches the database.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Cache-Control" not in response:
            response["Cache-Control"] = "no-store"
        return response


# --- Database outages -----------------------------------------------------------------

DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_MESSAGE = (
    "The service is temporarily unavailable (the database cannot be reached). "
    "Nothing was saved; try again in a moment."
)


def is_database_outage(exc: BaseException | None) -> bool:
    """An error that means "the database is down, slow or locked": retrying may work."""
    return isinstance(exc, DATABASE_ERRORS)


def database_unavailable(request: HttpRequest, exc: BaseException | None = None) -> HttpResponse:
    """503 with ``Retry-After``: the one answer to a database outage, API or browser.

    Built without the database (no session, no user, no base template), since the
    database is what failed.
    """
    log.error("Database unavailable for %s %s: %r", request.method, request.path, exc)
    if _wants_json(request):
        response: HttpResponse = JsonResponse(
            {"error": {"code": "unavailable", "message": UNAVAILABLE_MESSAGE, "fields": {}}},
            status=503,
        )
    else:
        response = HttpResponse(
            render_to_string("unavailable.html", {"message": UNAVAILABLE_MESSAGE}),
            status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """A database outage in a view answers 503 + ``Retry-After``, not a 500.

    DRF views map it in ``core.api.exception_handler``; an outage inside another
    middleware (a session saved on the way out) reaches ``core.views.server_error``.
    All three answer with ``database_unavailable``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_outage(exception):
            return database_unavailable(request, exception)
        return None
