"""Views every practice shares: health, the stable ticket address, downloads, errors."""

from __future__ import annotations

import contextlib
import sys
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from mainspring.identity.policy import Action, NotVisible, is_agent, require, visible_tickets

from . import registry
from .middleware import database_unavailable, is_database_outage
from .models import Attachment, Ticket, WorkerHeartbeat
from .numbering import parse_number
from .taskqueue import dead_count


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Agents land on their queue, requesters on the portal."""
    practices = registry.with_screens()
    if is_agent(request.user) and practices:
        return redirect(practices[0].queue_route)
    return redirect("portal:home")


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up (no database access: a liveness probe)."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready for traffic: database reachable, migrations applied, a worker seen recently."""
    checks: dict[str, str] = {}
    ok = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not ready", never a 500
        checks["database"] = f"error: {exc.__class__.__name__}"
        return JsonResponse({"status": "unavailable", "checks": checks}, status=503)
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        checks["migrations"] = "ok" if not pending else f"{len(pending)} pending"
        ok = ok and not pending
    except Exception as exc:
        checks["migrations"] = f"error: {exc.__class__.__name__}"
        ok = False
    cutoff = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)
    try:
        seen = WorkerHeartbeat.objects.filter(seen_at__gte=cutoff).exists()
    except Exception:
        seen = False
    checks["worker"] = "ok" if seen else "no worker seen recently"
    ok = ok and seen
    body: dict = {"status": "ok" if ok else "unavailable", "checks": checks}
    # Dead-lettered tasks need an admin, not a restart: reported, never "not ready".
    with contextlib.suppress(Exception):
        body["dead_tasks"] = dead_count(cap=1000)
    return JsonResponse(body, status=200 if ok else 503)


@login_required
def ticket_redirect(request: HttpRequest, number: str) -> HttpResponse:
    """The stable address of any ticket (``web_url``): sends each person to their view."""
    ticket = visible_tickets(request.user).filter(number=number.upper()).only("kind").first()
    if ticket is None:
        raise Http404
    if not is_agent(request.user):
        return redirect("portal:ticket", number=number.upper())
    practice = registry.by_kind(ticket.kind)
    if practice is None or not practice.namespace:
        raise Http404
    return redirect(practice.detail_route, number=number.upper())


@login_required
@require_GET
def jump(request: HttpRequest) -> HttpResponse:
    """The jump box: open a ticket of any kind by number (``PRB0001001``, ``inc1042``,
    ``#1042``: a bare number is tried against every prefix) or search for the text."""
    if not is_agent(request.user):
        raise Http404
    text = (request.GET.get("q") or "").strip()[:200]
    named = registry.by_number(text.lstrip("#"))
    if named is not None and not named.namespace:
        named = None
    candidates = [named] if named else registry.with_screens()
    numbers = {p: parse_number(text, p.prefix) for p in candidates}
    numbers = {p: n for p, n in numbers.items() if n}
    if numbers:
        found = (
            visible_tickets(request.user, Ticket.objects.filter(number__in=numbers.values()))
            .order_by("id")
            .values_list("number", flat=True)
            .first()
        )
        if found:
            return redirect(registry.by_number(found).detail_route, number=found)
        for practice, number in numbers.items():
            messages.warning(request, f"There is no {practice.label.lower()} {number}.")
    target = named or (candidates[0] if candidates else None)
    if target is None:
        return redirect("home")
    queue_url = reverse(target.queue_route)
    if not text:
        return redirect(queue_url)
    return redirect(f"{queue_url}?{urlencode({'is_open': 'any', 'q': text})}")


def attachment_response(user, key) -> FileResponse:
    """The file behind ``key`` as a download, if ``user`` may see its ticket (else 404).

    Always ``attachment`` + ``nosniff`` + a sandboxing CSP, whatever the file holds, so
    nothing a user uploaded can render in our origin. Shared by the UI and the API.
    """
    attachment = Attachment.objects.select_related("ticket").filter(storage_key=key).first()
    if attachment is None:
        raise Http404
    try:
        require(user, Action.VIEW, attachment.ticket)
    except NotVisible as exc:
        raise Http404 from exc
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.filename,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def download_attachment(request: HttpRequest, key) -> HttpResponse:
    """Only people who may see the ticket may download; always as a download."""
    return attachment_response(request.user, key)


def _error(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(
            {"error": {"code": code, "message": message, "fields": {}}}, status=status
        )
    return render(request, "error.html", {"status": status, "message": message}, status=status)


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        # Django refuses to read a text body (JSON, form fields) above its memory limit;
        # that is "too large", with the limit, not "could not be understood".
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)
        files = settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)
        return _error(
            request,
            413,
            "too_large",
            f"The request is larger than the {limit} MB limit for text (files may be up "
            f"to {files} MB, sent as attachments). Nothing was saved.",
        )
    return _error(request, 400, "bad_request", "The request could not be understood.")


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return _error(request, 403, "forbidden", "You may not do this.")


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return _error(request, 404, "not_found", "Not found.")


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this inside its except block: an outage raised by a middleware (not
    # a view, which DatabaseUnavailableMiddleware covers) is still a 503, not a 500.
    exc = sys.exc_info()[1]
    if is_database_outage(exc):
        return database_unavailable(request, exc)
    return _error(request, 500, "server_error", "Something went wrong on our side.")


def login_url_with_next(path: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{reverse('login')}?next={path}")
