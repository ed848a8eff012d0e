"""Knowledge operations: the one way in for articles, reviews, ratings and counters.

Each function runs in one transaction, checks the knowledge policy, validates, and
updates the search index in that same transaction, so a published article is findable
at once and a retired one disappears at once.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from mainspring.core.numbering import next_number
from mainspring.core.services import (
    AttachmentTooLarge,
    StaleVersion,
    TicketValidationError,
    sanitize_filename,
)
from mainspring.identity.policy import Action, Forbidden, is_agent, require

from . import policy, search
from .models import (
    PREFIX,
    Article,
    ArticleAttachment,
    ArticleFeedback,
    ArticleKind,
    ArticleRevision,
    ArticleView,
    Audience,
    Deflection,
    ResolvedByArticle,
)
from .states import ARTICLE_MACHINE, DRAFT, PUBLISHED

__all__ = [
    "DEFLECTION_CANCEL_WINDOW",
    "add_article_attachment",
    "create_article",
    "draft_from_incident",
    "mark_resolved_by_article",
    "publish",
    "rate",
    "record_deflection",
    "record_view",
    "remove_article_attachment",
    "retire",
    "revision_diff",
    "send_back",
    "submit",
    "update_article",
]

EDITABLE = (
    "title",
    "summary",
    "body",
    "category",
    "tags",
    "kind",
    "audience",
    "groups",
    "review_by",
    "related",
)
DEFLECTION_CANCEL_WINDOW = timedelta(minutes=30)


def _clean(fields: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise TicketValidationError({name: "Unknown field." for name in sorted(unknown)})
    errors: dict[str, str] = {}
    out = dict(fields)
    if "title" in out or creating:
        title = (out.get("title") or "").strip()
        if not title:
            errors["title"] = "Give the article a title."
        elif len(title) > 200:
            errors["title"] = "At most 200 characters."
        out["title"] = title
    if "summary" in out:
        out["summary"] = (out["summary"] or "").strip()
        if len(out["summary"]) > 500:
            errors["summary"] = "At most 500 characters."
    if "body" in out:
        out["body"] = out["body"] or ""
        if len(out["body"]) > 200_000:
            errors["body"] = "At most 200,000 characters."
    if "tags" in out:
        raw = out["tags"]
        words = raw if isinstance(raw, (list, tuple)) else str(raw or "").replace(",", " ").split()
        tags = " ".join(dict.fromkeys(w.strip().lower() for w in words if w.strip()))
        if len(tags) > 300:
            errors["tags"] = "At most 300 characters of tags."
        out["tags"] = tags
    if "kind" in out and out["kind"] not in ArticleKind.values:
        errors["kind"] = "Choose a known article type."
    if "audience" in out and out["audience"] not in Audience.values:
        errors["audience"] = "Choose everyone, agents or groups."
    if (
        "review_by" in out
        and out["review_by"] is not None
        and not isinstance(out["review_by"], date)
    ):
        errors["review_by"] = "A date."
    if "related" in out:
        numbers, bad = _parse_numbers(out["related"])
        if bad:
            errors["related"] = "Not article numbers: " + ", ".join(bad) + "."
        elif len(numbers) > MAX_RELATED:
            errors["related"] = f"At most {MAX_RELATED} related articles."
        out["related"] = numbers
    if errors:
        raise TicketValidationError(errors)
    return out


MAX_RELATED = 20
_NUMBER = re.compile(rf"{PREFIX}\d{{1,14}}")


def _parse_numbers(raw: Any) -> tuple[list[str], list[str]]:
    """``"KB0001002, kb0001005"`` or a list → (upper-cased unique numbers, bad entries)."""
    if raw is None:
        return [], []
    words = raw if isinstance(raw, (list, tuple)) else str(raw).replace(",", " ").split()
    numbers: dict[str, None] = {}
    bad: list[str] = []
    for word in words:
        word = str(word).strip().upper()
        if not word:
            continue
        if _NUMBER.fullmatch(word):
            numbers[word] = None
        elif len(bad) < 10:
            bad.append(word[:20])
    return list(numbers), bad


def _resolve_related(article: Article | None, numbers: list[str], *, by) -> list[Article]:
    """The articles behind ``numbers``, each one ``by`` may read; else a field error.

    Relations ``by`` cannot see (set by someone who could) are kept as they are: an editor
    neither sees nor silently drops them.
    """
    if article is not None and article.number in numbers:
        raise TicketValidationError({"related": "An article cannot be related to itself."})
    found = {
        a.number: a
        for a in policy.visible_articles(by, Article.objects.filter(number__in=numbers)).only(
            "id", "number"
        )
    }
    missing = [n for n in numbers if n not in found]
    if missing:
        raise TicketValidationError(
            {"related": "No article you can see has the number " + ", ".join(missing) + "."}
        )
    chosen = [found[n] for n in numbers]
    if article is not None and article.pk:
        visible = policy.visible_articles(by).values("pk")
        chosen += list(article.related.exclude(pk__in=visible).only("id"))
    return chosen


def _apply(article: Article, fields: dict[str, Any], *, by) -> None:
    groups = fields.pop("groups", None)
    related = fields.pop("related", None)
    if related is not None:
        related = _resolve_related(article, related, by=by)
    for name, value in fields.items():
        setattr(article, name, value)
    if groups is not None or related is not None:
        article.save()
    if groups is not None:
        article.groups.set(groups)
    if related is not None:
        # Symmetrical: the other article lists this one too.
        article.related.set(related)
    if article.audience == Audience.GROUPS and groups is not None and not groups:
        raise TicketValidationError({"groups": "Name at least one group for this audience."})


@transaction.atomic
def create_article(*, by, **fields: Any) -> Article:
    """A new draft written by an agent. Fields as in ``EDITABLE``."""
    if not is_agent(by):
        raise Forbidden("Only agents write articles.")
    fields = _clean(fields, creating=True)
    groups = fields.get("groups")
    if fields.get("audience") == Audience.GROUPS and not groups:
        raise TicketValidationError({"groups": "Name at least one group for this audience."})
    article = Article(number=next_number(PREFIX), author=by, state=ARTICLE_MACHINE.initial)
    _apply(article, fields, by=by)
    article.save()
    search.index_article(article)
    return article


def _lock(article: Article, expected_version: int | None, **changes: Any) -> None:
    """Claim the next version atomically (conditional UPDATE), as tickets do."""
    qs = Article.objects.filter(pk=article.pk)
    if expected_version is not None:
        qs = qs.filter(version=expected_version)
    now = timezone.now()
    if not qs.update(version=F("version") + 1, updated_at=now, **changes):
        current = Article.objects.filter(pk=article.pk).values_list("version", flat=True).first()
        raise StaleVersion(current or 0)
    article.version = Article.objects.filter(pk=article.pk).values_list("version", flat=True)[0]
    article.updated_at = now
    for name, value in changes.items():
        setattr(article, name, value)


def _snapshot(article: Article, by) -> None:
    article.revision += 1
    Article.objects.filter(pk=article.pk).update(revision=article.revision)
    ArticleRevision.objects.create(
        article=article,
        number=article.revision,
        title=article.title,
        summary=article.summary,
        body=article.body,
        published_by=by,
    )


@transaction.atomic
def update_article(
    article: Article, *, by, expected_version: int | None = None, **fields: Any
) -> Article:
    """Change an article. Authors edit their drafts; reviewers edit any live article,
    and a reviewer's edit of a published article is published as a new revision."""
    policy.require_edit(by, article)
    fields = _clean(fields, creating=False)
    _lock(article, expected_version)
    _apply(article, fields, by=by)
    article.save()
    if article.audience == Audience.GROUPS and not article.groups.exists():
        raise TicketValidationError({"groups": "Name at least one group for this audience."})
    if article.state == PUBLISHED:
        _snapshot(article, by)
    search.index_article(article)
    return article


def _transition(article: Article, name: str, *, by, expected_version: int | None, **extra):
    ARTICLE_MACHINE.check(article.state, name)
    target = ARTICLE_MACHINE.get(name).target
    _lock(article, expected_version, state=target, **extra)
    search.index_article(article)
    return article


@transaction.atomic
def submit(article: Article, *, by, expected_version: int | None = None) -> Article:
    """Ask for review (author or reviewer)."""
    policy.require_edit(by, article)
    return _transition(article, "submit", by=by, expected_version=expected_version)


@transaction.atomic
def publish(article: Article, *, by, expected_version: int | None = None) -> Article:
    """Publish (reviewers only); the published text is kept as a new revision."""
    policy.require_review(by, article)
    _transition(
        article,
        "publish",
        by=by,
        expected_version=expected_version,
        reviewer=by,
        review_comment="",
        published_at=timezone.now(),
    )
    _snapshot(article, by)
    return article


@transaction.atomic
def send_back(
    article: Article, *, by, comment: str, expected_version: int | None = None
) -> Article:
    """Return to the author with a comment saying what to change (reviewers only)."""
    policy.require_review(by, article)
    comment = (comment or "").strip()
    if not comment:
        raise TicketValidationError({"comment": "Say what the author should change."})
    return _transition(
        article,
        "send_back",
        by=by,
        expected_version=expected_version,
        reviewer=by,
        review_comment=comment[:5000],
    )


@transaction.atomic
def retire(article: Article, *, by, expected_version: int | None = None) -> Article:
    """Take a published article out of search and the portal (reviewers only)."""
    policy.require_review(by, article)
    return _transition(article, "retire", by=by, expected_version=expected_version)


# -- attachments and images ------------------------------------------------------------------
MAX_ATTACHMENTS = 100
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)


def detect_content_type(head: bytes) -> str:
    """The type the first bytes prove, else ``application/octet-stream``.

    Only these few formats are recognised; the client's claimed type and the file name
    are never consulted, so HTML or SVG named ``.png`` stays an opaque download.
    """
    for magic, content_type in _MAGIC:
        if head.startswith(magic):
            return content_type
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


@transaction.atomic
def add_article_attachment(article: Article, *, by, upload: File) -> ArticleAttachment:
    """Attach a file or image to ``article`` (whoever may edit it: the author of a draft,
    a reviewer). Kept across versions; ``ATTACHMENT_MAX_BYTES`` as for tickets (raises
    ``AttachmentTooLarge``), an empty file is a field error. Stored under a generated name.
    """
    policy.require_edit(by, article)
    limit = settings.ATTACHMENT_MAX_BYTES
    size = upload.size or 0
    if size > limit:
        raise AttachmentTooLarge(limit)
    if size == 0:
        raise TicketValidationError({"file": "The file is empty."})
    if ArticleAttachment.objects.filter(article=article).count() >= MAX_ATTACHMENTS:
        raise TicketValidationError({"file": f"At most {MAX_ATTACHMENTS} files per article."})
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    attachment = ArticleAttachment(
        article=article,
        filename=sanitize_filename(getattr(upload, "name", "") or "file"),
        content_type=detect_content_type(head),
        size=size,
        sha256=digest.hexdigest(),
        uploaded_by=by,
    )
    attachment.file.save("upload", upload, save=False)
    try:
        attachment.save()
    except Exception:
        attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


@transaction.atomic
def remove_article_attachment(attachment: ArticleAttachment, *, by) -> None:
    """Delete a file of an article (whoever may edit the article); the stored file goes
    once the transaction commits. Markdown still pointing at it shows a broken link."""
    policy.require_edit(by, attachment.article)
    name, storage = attachment.file.name, attachment.file.storage
    attachment.delete()
    transaction.on_commit(lambda: storage.delete(name))


# -- readers ----------------------------------------------------------------------------------
def record_view(article: Article, *, by) -> None:
    """Count a read. An insert, never an update of the article row."""
    ArticleView.objects.create(article=article, user=by if by.is_authenticated else None)


@transaction.atomic
def rate(article: Article, *, by, helpful: bool, comment: str = "") -> ArticleFeedback:
    """Helpful or not, with an optional comment; a second rating replaces the first."""
    policy.require_view(by, article)
    if article.state != PUBLISHED:
        raise TicketValidationError({"helpful": "Only published articles can be rated."})
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise TicketValidationError({"comment": "At most 2,000 characters."})
    feedback, _ = ArticleFeedback.objects.update_or_create(
        article=article,
        user=by,
        defaults={"helpful": bool(helpful), "comment": comment, "created_at": timezone.now()},
    )
    return feedback


def record_deflection(article: Article, *, by) -> Deflection | None:
    """The requester opened a suggestion while reporting; cancelled if they submit anyway."""
    if not by.is_authenticated or article.state != PUBLISHED:
        return None
    return Deflection.objects.create(article=article, user=by)


def cancel_deflections(user_id: int, *, at=None) -> int:
    """A report submitted after reading suggestions: those reads did not deflect it."""
    at = at or timezone.now()
    return Deflection.objects.filter(
        user_id=user_id, cancelled=False, created_at__gte=at - DEFLECTION_CANCEL_WINDOW
    ).update(cancelled=True)


@transaction.atomic
def mark_resolved_by_article(ticket, article: Article, *, by) -> ResolvedByArticle:
    """An agent says this article resolved ``ticket``; counted once per pair."""
    require(by, Action.WORK, ticket)
    policy.require_view(by, article)
    if article.state != PUBLISHED:
        raise TicketValidationError({"article": "Choose a published article."})
    try:
        with transaction.atomic():
            return ResolvedByArticle.objects.create(article=article, ticket_id=ticket.pk, by=by)
    except IntegrityError:
        return ResolvedByArticle.objects.get(article=article, ticket_id=ticket.pk)


def draft_from_incident(incident, *, by) -> Article:
    """A draft pre-filled from a resolved incident: symptoms and resolution."""
    require(by, Action.VIEW, incident)
    body = (
        "## Symptoms\n\n"
        + (incident.description or "").strip()
        + "\n\n## Resolution\n\n"
        + (getattr(incident, "resolution_notes", "") or "").strip()
        + "\n"
    )
    return create_article(by=by, title=incident.title, kind=ArticleKind.TROUBLESHOOTING, body=body)


def revision_diff(old: ArticleRevision | None, new: ArticleRevision) -> list[tuple[str, str]]:
    """``(op, line)`` pairs, op one of ``' '``, ``'+'``, ``'-'``: a readable line diff."""
    before = (f"# {old.title}\n\n{old.summary}\n\n{old.body}" if old else "").splitlines()
    after = f"# {new.title}\n\n{new.summary}\n\n{new.body}".splitlines()
    out = []
    for line in difflib.ndiff(before, after):
        op = line[:1]
        if op in {" ", "+", "-"}:
            out.append((op, line[2:]))
    return out


def due_for_review(today: date | None = None):
    """Published articles whose review date has come."""
    today = today or timezone.localdate()
    return Article.objects.filter(state=PUBLISHED, review_by__lte=today).order_by("review_by")


def in_review():
    return Article.objects.filter(state="in_review").order_by("updated_at")


__all__ += ["DRAFT", "cancel_deflections", "due_for_review", "in_review"]
