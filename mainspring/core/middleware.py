"""Security headers for every response (SECURITY.md: strict CSP, no sniffing)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape

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
        else:
            response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            docs = request.path.startswith("/api/docs")
            response["Content-Security-Policy"] = DOCS_CSP if docs else CSP
        response.setdefault("X-Content-Type-Options", "nosniff")
        response.setdefault("Referrer-Policy", "same-origin")
        return response


def _too_large(request: HttpRequest) -> HttpResponse:
    """413 before the body is read: JSON for the API, a short page for a browser."""
    message = (
        f"The request is larger than the {settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)} MB "
        "limit. Nothing was saved."
    )
    if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
        return JsonResponse(
            {"error": {"code": "too_large", "message": message, "fields": {}}}, status=413
        )
    # Sessions and users are not loaded yet (this runs first), so no base template: a
    # plain page, or for htmx the fragment it swaps in where the form was.
    body = (
        f'<p class="field-error" role="alert">{escape(message)} '
        "Go back and choose a smaller file.</p>"
    )
    if not request.headers.get("HX-Request"):
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            "<title>File too large</title></head><body><main><h1>File too large</h1>"
            f"{body}</main></body></html>"
        )
    return HttpResponse(body, status=413, content_type="text/html; charset=utf-8")
