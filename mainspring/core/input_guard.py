"""One guard for the text every request carries before any view or lookup reads it.

PostgreSQL cannot store or compare text holding NUL (``DataError``, a 500), and no
form, header or address of ours has a use for one. So a NUL in the path (a ticket
number, an article number, a username...) is a 404, as for any unknown address; in a
query parameter, a header or (for the HTML pages) a form field it is a 400 naming it.
API bodies are the API parsers' business (``core.parsers``), which give the same
answer in the API's error shape.

It runs in ``process_view``, after the other middleware have set up the request but
before the view, the session or the user is read from the database.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape
from rest_framework.views import APIView

from .parsers import query_dict_problems
from .parsing import NUL_MESSAGE

__all__ = ["InputGuardMiddleware"]

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class InputGuardMiddleware:
    """NUL anywhere in a request's text: 404 in the path, 400 elsewhere."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        header = _header_with_nul(request)
        if header:
            return _refused(request, {header: [NUL_MESSAGE]})
        if "\x00" in request.path_info:
            raise Http404
        problems = query_dict_problems(request.GET)
        if not problems and _reads_own_form(request, view_func):
            problems = query_dict_problems(request.POST)
        if problems:
            return _refused(request, problems)
        return None


def _header_with_nul(request: HttpRequest) -> str | None:
    for key, value in request.META.items():
        if (key.startswith("HTTP_") or key.startswith("CONTENT_")) and "\x00" in str(value):
            return key.removeprefix("HTTP_").replace("_", "-").title()
    return None


def _reads_own_form(request: HttpRequest, view_func) -> bool:
    """A page (not an API view, whose parsers check) posting a form body."""
    view_class = getattr(view_func, "cls", None)
    if isinstance(view_class, type) and issubclass(view_class, APIView):
        return False
    content_type = request.content_type or ""
    return request.method not in ("GET", "HEAD", "OPTIONS") and content_type in _FORM_TYPES


def _refused(request: HttpRequest, fields: dict[str, list[str]]) -> HttpResponse:
    """400 in the API's error shape, or a short page.

    The page is built here, without the site template: a NUL in a cookie would reach
    the database through the session the template's user menu loads.
    """
    message = "The request contains a character that cannot be stored (NUL)."
    if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
        return JsonResponse(
            {"error": {"code": "invalid", "message": message, "fields": fields}}, status=400
        )
    names = ", ".join(f"“{escape(name)}”" for name in fields)
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Bad request</title></head><body><main><h1>Bad request</h1>"
        f'<p role="alert">{escape(message)} Field: {names}. Go back, remove it and try '
        "again.</p></main></body></html>"
    )
    return HttpResponse(body, status=400, content_type="text/html; charset=utf-8")
