"""Security headers for every response (SECURITY.md: strict CSP, no sniffing)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

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
            response: HttpResponse = JsonResponse(
                {
                    "error": {
                        "code": "too_large",
                        "message": f"The request is larger than the "
                        f"{settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)} MB limit.",
                        "fields": {},
                    }
                },
                status=413,
            )
        else:
            response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            docs = request.path.startswith("/api/docs")
            response["Content-Security-Policy"] = DOCS_CSP if docs else CSP
        response.setdefault("X-Content-Type-Options", "nosniff")
        response.setdefault("Referrer-Policy", "same-origin")
        return response
