"""Knowledge pages: the agent workspace (/knowledge/) and the portal (/portal/knowledge/).

Thin views: parse, ask ``knowledge.policy``, call ``knowledge.services``, render.
An article the user may not see is a 404.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mainspring.core import registry
from mainspring.core.parsing import parse_int
from mainspring.core.services import AttachmentTooLarge, StaleVersion, TicketValidationError
from mainspring.core.states import InvalidTransition
from mainspring.identity.policy import Forbidden, NotVisible, is_agent, visible_tickets
from mainspring.workspace.access import agent_page

from . import policy, search, services
from .forms import ArticleFileForm, ArticleForm, FeedbackForm, SearchFilterForm, SendBackForm
from .models import (
    Article,
    ArticleAttachment,
    ArticleFeedback,
    ArticleRevision,
    ArticleView,
    Deflection,
    ResolvedByArticle,
)
from .states import ARTICLE_MACHINE, PUBLISHED

SUGGEST_MIN = 3
SUGGEST_LIMIT = 5


def _article(request: HttpRequest, number: str) -> Article:
    article = (
        policy.visible_articles(request.user, Article.objects.select_related("author", "category"))
        .filter(number=number.upper()[:16])
        .first()
    )
    if article is None:
        raise Http404
    return article


def _editable(request: HttpRequest, number: str) -> Article:
    """The article, if the user may edit it: 404 if they cannot see it, else 403."""
    article = _article(request, number)
    if not policy.can_edit(request.user, article):
        raise PermissionDenied
    return article


def _add_errors(form, exc: TicketValidationError) -> None:
    for name, errors in exc.fields.items():
        for error in errors:
            form.add_error(name if name in form.fields else None, error)


# -- agent workspace --------------------------------------------------------------------------
@agent_page
@require_GET
def article_list(request: HttpRequest) -> HttpResponse:
    """Search and browse; reviewers also see the review queue."""
    q = request.GET.get("q", "")[:200]
    state = request.GET.get("state", "")
    filters = SearchFilterForm(request.GET, prefix="f")
    hits = (
        search.search_articles(request.user, q, limit=50, **filters.search_kwargs())
        if q.strip()
        else None
    )
    qs = policy.visible_articles(request.user).select_related("author")
    if state in dict(ARTICLE_MACHINE.choices()):
        qs = qs.filter(state=state)
    return render(
        request,
        "knowledge/list.html",
        {
            "q": q,
            "hits": hits,
            "filters": filters,
            "articles": list(qs.order_by("-updated_at", "-id")[:50]),
            "state": state,
            "states": ARTICLE_MACHINE.choices(),
            "mine": list(
                Article.objects.filter(author=request.user)
                .exclude(state=PUBLISHED)
                .exclude(state="retired")[:20]
            ),
        },
    )


@agent_page
@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    """Articles waiting for a reviewer, and published ones due for review."""
    visible = policy.visible_articles(request.user).select_related("author")
    return render(
        request,
        "knowledge/review.html",
        {
            "waiting": list(visible.filter(state="in_review").order_by("updated_at")[:100]),
            "due": list(
                visible.filter(state=PUBLISHED, review_by__lte=timezone.localdate()).order_by(
                    "review_by"
                )[:100]
            ),
            "is_reviewer": policy.is_reviewer(request.user),
        },
    )


@agent_page
@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    form = ArticleForm(request.POST or None, initial={"kind": "how_to", "audience": "everyone"})
    if request.method == "POST" and form.is_valid():
        try:
            article = services.create_article(by=request.user, **form.service_fields())
        except TicketValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Draft {article.number} saved.")
            return redirect("knowledge:detail", article.number)
    status = 400 if request.method == "POST" else 200
    return render(request, "knowledge/edit.html", {"form": form, "article": None}, status=status)


@agent_page
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, number: str) -> HttpResponse:
    article = _editable(request, number)
    form = _article_form(request, article, request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.update_article(
                    article,
                    by=request.user,
                    expected_version=form.cleaned_data.get("version"),
                    **form.service_fields(),
                )
            except TicketValidationError as exc:
                _add_errors(form, exc)
            except StaleVersion as exc:
                form.add_error(None, str(exc))
                status = 409
            else:
                messages.success(request, "Article saved.")
                return redirect("knowledge:detail", article.number)
    return render(request, "knowledge/edit.html", _edit_context(article, form=form), status=status)


def _article_form(request: HttpRequest, article: Article, data=None) -> ArticleForm:
    initial = {
        "title": article.title,
        "summary": article.summary,
        "body": article.body,
        "kind": article.kind,
        "category": article.category_id,
        "tags": article.tags,
        "audience": article.audience,
        "groups": list(article.groups.values_list("pk", flat=True)),
        "review_by": article.review_by,
        "related": ", ".join(a.number for a in _related(request, article)),
        "version": article.version,
    }
    return ArticleForm(data, initial=initial)


def _edit_context(article: Article, **extra) -> dict:
    context = {
        "article": article,
        "attachments": list(article.attachments.select_related("uploaded_by")),
        "file_form": ArticleFileForm(),
    }
    context.update(extra)
    return context


def _related(request: HttpRequest, article: Article, *, published_only: bool = False) -> list:
    """Related articles ``request.user`` may read (published ones only for the portal)."""
    qs = article.related.only("id", "number", "title", "state", "kind").order_by("number")
    if published_only:
        qs = policy.published_for(request.user, qs)
    else:
        qs = policy.visible_articles(request.user, qs)
    return list(qs[: services.MAX_RELATED])


def _files_answer(request: HttpRequest, article: Article, status: int = 200, **extra):
    """HTMX: the attachments part of the edit page; otherwise the whole page."""
    if getattr(request, "htmx", False):
        context = _edit_context(article, **extra)
        return render(request, "knowledge/_files.html", context, status=status)
    if status < 400:
        return redirect("knowledge:edit", article.number)
    context = _edit_context(article, form=_article_form(request, article), **extra)
    return render(request, "knowledge/edit.html", context, status=status)


@agent_page
@require_POST
def upload_file(request: HttpRequest, number: str) -> HttpResponse:
    """Attach a file or image (whoever may edit the article); field errors on the form."""
    article = _editable(request, number)
    form = ArticleFileForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            attachment = services.add_article_attachment(
                article, by=request.user, upload=form.cleaned_data["file"]
            )
        except (TicketValidationError, AttachmentTooLarge) as exc:
            fields = getattr(exc, "fields", None) or {"file": [str(exc)]}
            _add_errors(form, TicketValidationError(fields))
        else:
            if not getattr(request, "htmx", False):
                messages.success(request, f"Attached {attachment.filename}.")
            return _files_answer(request, article, added=attachment)
    return _files_answer(request, article, 400, file_form=form)


@agent_page
@require_POST
def remove_file(request: HttpRequest, number: str, key) -> HttpResponse:
    """Delete one of the article's files (whoever may edit the article)."""
    article = _editable(request, number)
    attachment = ArticleAttachment.objects.filter(article=article, storage_key=key).first()
    if attachment is None:
        raise Http404
    attachment.article = article
    services.remove_article_attachment(attachment, by=request.user)
    if not getattr(request, "htmx", False):
        messages.success(request, f"Removed {attachment.filename}.")
    return _files_answer(request, article, removed=attachment)


def article_file_response(user, number: str, key, *, inline_images: bool = True) -> FileResponse:
    """The file ``key`` of article ``number``, if ``user`` may read the article (else 404).

    Like ticket attachments: ``nosniff``, a sandboxing CSP and ``attachment``, except
    that PNG, JPEG, GIF and WebP images (proved by their first bytes, never SVG) are
    served ``inline`` with their image type, so ``![alt](url)`` in the body shows them.
    Shared by the UI and the API; the API asks for ``inline_images=False``, since a
    program downloading a file wants the file, not a page to show.
    """
    visible = policy.visible_articles(user).filter(number=str(number).upper()[:16])
    attachment = (
        ArticleAttachment.objects.filter(storage_key=key, article__in=visible.values("pk"))
        .only("file", "filename", "content_type")
        .first()
    )
    if attachment is None:
        raise Http404
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    inline = inline_images and attachment.is_image
    response = FileResponse(
        handle,
        as_attachment=not inline,
        filename=attachment.filename,
        content_type=attachment.content_type if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def download_file(request: HttpRequest, number: str, key) -> HttpResponse:
    """Whoever may read the article (requesters too); anyone else gets a 404."""
    return article_file_response(request.user, number, key)


@agent_page
@require_GET
def detail(request: HttpRequest, number: str) -> HttpResponse:
    article = _article(request, number)
    stats = {
        "views": ArticleView.objects.filter(article=article).count(),
        "helpful": ArticleFeedback.objects.filter(article=article, helpful=True).count(),
        "ratings": ArticleFeedback.objects.filter(article=article).count(),
        "deflections": Deflection.objects.filter(article=article, cancelled=False).count(),
        "resolved": ResolvedByArticle.objects.filter(article=article).count(),
    }
    stats["percent"] = (
        round(100 * stats["helpful"] / stats["ratings"]) if stats["ratings"] else None
    )
    reviewer = policy.is_reviewer(request.user)
    editable = policy.can_edit(request.user, article)
    actions = [
        t
        for t in ARTICLE_MACHINE.available(article.state)
        if (t.action == "review" and reviewer) or (t.action == "edit" and editable)
    ]
    return render(
        request,
        "knowledge/detail.html",
        {
            "article": article,
            "stats": stats,
            "actions": [t for t in actions if t.name != "send_back"],
            "can_send_back": any(t.name == "send_back" for t in actions),
            "send_back_form": SendBackForm(),
            "can_edit": editable,
            "feedback": list(article.feedback.select_related("user")[:20]),
            "attachments": list(article.attachments.all()),
            "related": _related(request, article),
        },
    )


@agent_page
@require_POST
def transition(request: HttpRequest, number: str, name: str) -> HttpResponse:
    article = _article(request, number)
    fn = {
        "submit": services.submit,
        "publish": services.publish,
        "retire": services.retire,
        "send_back": services.send_back,
    }.get(name)
    if fn is None:
        raise Http404
    kwargs = {}
    if name == "send_back":
        kwargs["comment"] = request.POST.get("comment", "")
    try:
        fn(article, by=request.user, **kwargs)
    except (InvalidTransition, TicketValidationError, Forbidden) as exc:
        text = str(exc)
        if isinstance(exc, TicketValidationError):
            text = " ".join(m for ms in exc.fields.values() for m in ms)
        messages.error(request, text)
    else:
        messages.success(request, f"{article.number}: {ARTICLE_MACHINE.get(name).label} done.")
    return redirect("knowledge:detail", article.number)


@agent_page
@require_GET
def history(request: HttpRequest, number: str) -> HttpResponse:
    """Published revisions; ``?rev=N`` shows the diff from N-1 to N."""
    article = _article(request, number)
    revisions = list(article.revisions.select_related("published_by"))
    diff = shown = None
    rev = parse_int(request.GET.get("rev", ""))
    if rev is not None:
        by_number = {r.number: r for r in revisions}
        shown = by_number.get(rev)
        if shown is None:
            raise Http404
        diff = services.revision_diff(by_number.get(shown.number - 1), shown)
    return render(
        request,
        "knowledge/history.html",
        {"article": article, "revisions": revisions, "diff": diff, "shown": shown},
    )


def _incident(request: HttpRequest, number: str):
    """The ticket (any practice's row, from core.registry) the knowledge panel is for."""
    practice = registry.by_number(number)
    if practice is None:
        raise Http404
    ticket = visible_tickets(request.user, practice.model.objects.all()).filter(number=number)
    found = ticket.first()
    if found is None:
        raise Http404
    return found


@agent_page
@require_GET
def incident_panel(request: HttpRequest, number: str) -> HttpResponse:
    """HTMX: knowledge search from an incident (defaults to its title)."""
    incident = _incident(request, number)
    q = request.GET.get("kb_q", incident.title)[:200]
    return render(
        request,
        "knowledge/_incident_results.html",
        {"incident": incident, "hits": search.search_articles(request.user, q, limit=8), "q": q},
    )


@agent_page
@require_POST
def resolved_by(request: HttpRequest, number: str, article_number: str) -> HttpResponse:
    incident = _incident(request, number)
    article = _article(request, article_number)
    try:
        services.mark_resolved_by_article(incident, article, by=request.user)
    except (TicketValidationError, Forbidden, NotVisible) as exc:
        messages.error(request, str(exc) or "Not possible.")
    else:
        messages.success(request, f"{incident.number} marked as resolved by {article.number}.")
    return redirect("incidents:detail", incident.number)


@agent_page
@require_POST
def draft_from_incident(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident(request, number)
    article = services.draft_from_incident(incident, by=request.user)
    messages.success(request, f"Draft {article.number} created from {incident.number}.")
    return redirect("knowledge:edit", article.number)


@agent_page
@require_GET
def report(request: HttpRequest) -> HttpResponse:
    """Deflections and "resolved by article" per article."""
    visible = policy.visible_articles(request.user)
    deflections = dict(
        Deflection.objects.filter(cancelled=False, article__in=visible)
        .values_list("article")
        .annotate(n=Count("id"))
        .values_list("article", "n")
    )
    resolved = dict(
        ResolvedByArticle.objects.filter(article__in=visible)
        .values_list("article")
        .annotate(n=Count("id"))
        .values_list("article", "n")
    )
    ids = set(deflections) | set(resolved)
    rows = [
        {"article": a, "deflections": deflections.get(a.pk, 0), "resolved": resolved.get(a.pk, 0)}
        for a in Article.objects.filter(pk__in=ids)
    ]
    rows.sort(key=lambda r: (-(r["deflections"] + r["resolved"]), r["article"].number))
    return render(request, "knowledge/report.html", {"rows": rows})


# -- portal ------------------------------------------------------------------------------------
@login_required
@require_GET
def portal_home(request: HttpRequest) -> HttpResponse:
    """Search, most viewed (last 30 days) and newest."""
    q = request.GET.get("q", "")[:200]
    filters = SearchFilterForm(request.GET, prefix="f")
    published = policy.published_for(request.user)
    since = timezone.now() - timedelta(days=30)
    top = list(
        ArticleView.objects.filter(created_at__gte=since, article__in=published)
        .values("article")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("article", flat=True)[:5]
    )
    by_id = Article.objects.in_bulk(top)
    return render(
        request,
        "knowledge/portal_home.html",
        {
            "q": q,
            "filters": filters,
            "hits": (
                search.search_articles(request.user, q, **filters.search_kwargs())
                if q.strip()
                else None
            ),
            "most_viewed": [by_id[i] for i in top if i in by_id],
            "newest": list(published.order_by("-published_at", "-id")[:5]),
        },
    )


@login_required
@require_GET
def suggest(request: HttpRequest) -> HttpResponse:
    """HTMX, debounced: articles matching what is typed in the report form's title."""
    q = (request.GET.get("title") or request.GET.get("q") or "")[:200]
    hits = (
        search.search_articles(request.user, q, limit=SUGGEST_LIMIT)
        if len(q.strip()) >= SUGGEST_MIN
        else []
    )
    return render(request, "knowledge/_suggestions.html", {"hits": hits, "q": q})


@login_required
@require_GET
def portal_article(request: HttpRequest, number: str) -> HttpResponse:
    """An article for readers; ``?from=deflection`` records a (cancellable) deflection."""
    article = _article(request, number)
    if article.state != PUBLISHED and not is_agent(request.user):
        raise Http404
    if article.state == PUBLISHED:
        services.record_view(article, by=request.user)
        if request.GET.get("from") == "deflection":
            services.record_deflection(article, by=request.user)
    mine = ArticleFeedback.objects.filter(article=article, user=request.user).first()
    form = FeedbackForm(initial={"comment": mine.comment if mine else ""})
    return render(
        request,
        "knowledge/portal_article.html",
        _portal_context(request, article, form=form, mine=mine),
    )


def _portal_context(request: HttpRequest, article: Article, **extra) -> dict:
    """Files and related articles for a reader: only published related articles they may
    read (never a draft or an agents-only one for a requester)."""
    context = {
        "article": article,
        "attachments": list(article.attachments.all()),
        "related": _related(request, article, published_only=True),
    }
    context.update(extra)
    return context


@login_required
@require_POST
def feedback(request: HttpRequest, number: str) -> HttpResponse:
    article = _article(request, number)
    form = FeedbackForm(request.POST)
    if form.is_valid():
        try:
            services.rate(
                article,
                by=request.user,
                helpful=form.cleaned_data["helpful"],
                comment=form.cleaned_data["comment"],
            )
        except TicketValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Thank you for your feedback.")
            return redirect("kb_portal:article", article.number)
    return render(
        request,
        "knowledge/portal_article.html",
        _portal_context(request, article, form=form, mine=None),
        status=400,
    )


__all__ = ["ArticleRevision", "Q", "get_object_or_404"]
