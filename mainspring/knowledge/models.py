"""Knowledge articles, their published revisions, and the counters kept beside them.

Views, ratings, deflections and "resolved by article" are their own append-only rows,
never counters on the article: a popular article must not serialise its readers on one
row lock. Reports aggregate them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone

from mainspring.core.markdown import render_markdown
from mainspring.core.models import attachment_path

from .states import ARTICLE_MACHINE, DRAFT

PREFIX = "KB"


class ArticleKind(models.TextChoices):
    HOW_TO = "how_to", "How-to"
    TROUBLESHOOTING = "troubleshooting", "Troubleshooting"
    FAQ = "faq", "FAQ"
    KNOWN_ERROR = "known_error", "Known error"


class Audience(models.TextChoices):
    EVERYONE = "everyone", "Everyone"
    AGENTS = "agents", "Agents only"
    GROUPS = "groups", "Named groups"


class Article(models.Model):
    """An article's working copy; each publication is also kept as an ArticleRevision."""

    number = models.CharField(max_length=16, unique=True)
    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    category = models.ForeignKey(
        "incidents.Category", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Lower-case, space-separated words; filtered with word boundaries in search.tag_filter.
    tags = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=20, choices=ArticleKind.choices, default=ArticleKind.HOW_TO)
    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.EVERYONE)
    groups = models.ManyToManyField("identity.AssignmentGroup", blank=True, related_name="+")
    related = models.ManyToManyField("self", blank=True)
    state = models.CharField(max_length=16, choices=ARTICLE_MACHINE.choices(), default=DRAFT)
    # Optimistic lock, as on tickets: an edit based on an old version is refused.
    version = models.PositiveIntegerField(default=1)
    # Number of the latest published revision (0: never published).
    revision = models.PositiveIntegerField(default=0)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    review_comment = models.TextField(blank=True)
    review_by = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    # PostgreSQL only (weighted tsvector, GIN-indexed by migration); unused on SQLite,
    # where an FTS5 table plays the same part. Both are written by services.reindex.
    search_vector = SearchVectorField(null=True, editable=False)
    # PostgreSQL only, small and stored inline: the title alone (A), and title plus
    # summary and tags (A/B). Search ranks title matches, then summary/tag matches, then
    # body matches, each from a bounded set of candidates (see search.py).
    search_title = SearchVectorField(null=True, editable=False)
    search_head = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "-published_at"], name="kb_state_pub_idx"),
            models.Index(fields=["state", "review_by"], name="kb_review_by_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def body_html(self) -> str:
        return render_markdown(self.body)

    @property
    def state_label(self) -> str:
        return ARTICLE_MACHINE.state(self.state).label

    @property
    def tag_list(self) -> list[str]:
        return self.tags.split()

    def get_absolute_url(self) -> str:  # noqa: DJ012
        from django.urls import reverse

        return reverse("kb_portal:article", args=[self.number])

    @property
    def web_url(self) -> str:
        return settings.BASE_URL + self.get_absolute_url()


# Served inline (for Markdown images) only when the first bytes say so; never SVG.
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


class ArticleAttachment(models.Model):
    """A file or image of an article, kept across its versions.

    Stored under a generated name (core's ``attachment_path``); ``filename`` is only ever
    displayed. ``content_type`` comes from the file's first bytes, never from the client.
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="attachments")
    storage_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    file = models.FileField(upload_to=attachment_path, max_length=200)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, default="application/octet-stream")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["article", "created_at"], name="kb_attach_article_idx")]

    def __str__(self) -> str:
        return self.filename

    @property
    def is_image(self) -> bool:
        return self.content_type in INLINE_IMAGE_TYPES

    def get_absolute_url(self) -> str:  # noqa: DJ012
        from django.urls import reverse

        return reverse("knowledge:file", args=[self.article.number, self.storage_key])

    @property
    def markdown(self) -> str:
        """What to paste in the body: an image for images, a link otherwise."""
        label = "".join("\\" + ch if ch in "[]\\" else ch for ch in self.filename)
        return f"{'!' if self.is_image else ''}[{label}]({self.get_absolute_url()})"


class ArticleRevision(models.Model):
    """A published version, kept for history and diffs."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["article", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="kb_revision_uniq"),
        ]


class KnowledgeReviewer(models.Model):
    """Who may publish: a person (a knowledge manager) or every member of a group."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    group = models.OneToOneField(
        "identity.AssignmentGroup",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False) | models.Q(group__isnull=False),
                name="kb_reviewer_user_or_group",
            )
        ]


class ArticleView(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["created_at", "article"], name="kb_view_time_idx")]


class ArticleFeedback(models.Model):
    """One rating per person per article; rating again replaces it."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    helpful = models.BooleanField()
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["article", "user"], name="kb_feedback_uniq"),
        ]


class Deflection(models.Model):
    """A requester opened a suggested article while reporting and did not submit.

    Cancelled when the same person submits an incident within CANCEL_WINDOW.
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    cancelled = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="kb_deflect_user_idx")]


class ResolvedByArticle(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey("core.Ticket", on_delete=models.CASCADE, related_name="+")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "ticket"], name="kb_resolved_by_uniq"),
        ]
