"""Who may see and do what with knowledge articles.

* Requesters: published articles for everyone, or for a group they belong to.
* Agents: every published article for agents or everyone, group articles of their
  groups, and their own drafts.
* Reviewers (administrators, knowledge managers, members of a reviewer group): all.

An article the user may not see is a 404 (``NotVisible``), as for tickets.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from mainspring.identity.models import Membership, Role
from mainspring.identity.policy import Forbidden, NotVisible, is_agent

from .models import Article, Audience, KnowledgeReviewer
from .states import PUBLISHED

__all__ = ["can_edit", "is_reviewer", "require_edit", "require_review", "visible_articles"]


def _active(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def is_reviewer(user) -> bool:
    """A knowledge manager: may publish, send back and retire."""
    if not is_agent(user):
        return False
    if user.role == Role.ADMIN:
        return True
    cached = getattr(user, "_kb_reviewer", None)
    if cached is None:
        groups = Membership.objects.filter(user_id=user.pk).values("group_id")
        cached = KnowledgeReviewer.objects.filter(
            Q(user_id=user.pk) | Q(group_id__in=groups)
        ).exists()
        user._kb_reviewer = cached
    return cached


def _audience_filter(user) -> Q:
    # Columns of the article row, plus a small subquery for group audiences: no join
    # (no duplicate rows) and no IN over the whole article table, so search and lists
    # can filter candidate rows one by one.
    member_of = Membership.objects.filter(user_id=user.pk).values("group_id")
    for_my_groups = Article.groups.through.objects.filter(assignmentgroup_id__in=member_of).values(
        "article_id"
    )
    allowed = Q(audience=Audience.EVERYONE) | Q(audience=Audience.GROUPS, pk__in=for_my_groups)
    if is_agent(user):
        allowed |= Q(audience=Audience.AGENTS)
    return allowed


def visible_articles(user, qs: QuerySet | None = None) -> QuerySet:
    """The articles ``user`` may read (a queryset filter)."""
    qs = Article.objects.all() if qs is None else qs
    if not _active(user):
        return qs.none()
    if is_reviewer(user):
        return qs
    published = Q(state=PUBLISHED) & _audience_filter(user)
    if is_agent(user):
        return qs.filter(published | Q(author_id=user.pk))
    return qs.filter(published)


def published_for(user, qs: QuerySet | None = None) -> QuerySet:
    """What search, suggestions and portal lists show: published and visible only."""
    return visible_articles(user, qs).filter(state=PUBLISHED)


def can_see(user, article: Article) -> bool:
    return visible_articles(user, Article.objects.filter(pk=article.pk)).exists()


def can_edit(user, article: Article) -> bool:
    """Authors edit their drafts; reviewers edit anything but retired articles."""
    if not is_agent(user):
        return False
    if is_reviewer(user):
        return article.state != "retired"
    return article.author_id == user.pk and article.state == "draft"


def require_view(user, article: Article) -> None:
    if not can_see(user, article):
        raise NotVisible


def require_edit(user, article: Article) -> None:
    require_view(user, article)
    if not can_edit(user, article):
        raise Forbidden("You may not edit this article.")


def require_review(user, article: Article) -> None:
    require_view(user, article)
    if not is_reviewer(user):
        raise Forbidden("Only knowledge reviewers may do this.")
