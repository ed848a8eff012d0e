"""One search interface over knowledge articles and incidents, two backends.

PostgreSQL: a weighted tsvector (title A, summary and tags B, body C) stored on the
article and GIN-indexed; ``to_tsquery`` built from the parsed query (phrases as
``<->``, prefixes as ``:*``); ``ts_rank`` for relevance; ``ts_headline`` snippets; and,
when full text finds nothing, trigram similarity on titles for typos (pg_trgm).

SQLite: FTS5 tables with the porter stemmer; ``bm25`` with the same column weights;
``snippet()``.

Visibility is never the index's business: every query is restricted to a queryset from
the policy (``published_for`` / ``visible_tickets``), so a search can only narrow what
the user may already see. Snippets are escaped, then only ``<mark>`` is added back.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVector,
    TrigramSimilarity,
)
from django.db import connection
from django.db.models import F, Q, QuerySet, TextField, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat

from mainspring.identity.policy import is_agent, visible_tickets

from .models import Article
from .policy import published_for

__all__ = [
    "Hit",
    "Term",
    "index_article",
    "index_ticket",
    "parse_query",
    "search",
    "search_articles",
    "search_incidents",
]

MAX_QUERY = 200
MAX_TERMS = 8
# Sentinels around matches; the text is escaped first, then they become <mark>.
START, STOP = "\x02", "\x03"
TRIGRAM_THRESHOLD = 0.3
KINDS = ("article", "incident")


def config() -> str:
    """The text search configuration (stemming language) on PostgreSQL."""
    name = getattr(settings, "KNOWLEDGE_SEARCH_CONFIG", "english")
    return name if re.fullmatch(r"[a-z_]+", name) else "english"


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]
    prefix: bool = False

    @property
    def phrase(self) -> bool:
        return len(self.words) > 1


@dataclass
class Hit:
    kind: str
    number: str
    title: str
    snippet: str
    web_url: str
    url: str
    rank: float = 0.0
    extra: dict = field(default_factory=dict)


def parse_query(text: str | None) -> list[Term]:
    """Terms of a query: ``"exact phrase"``, words, and ``prefix*``.

    Only word characters survive, so nothing a user types reaches either database's
    query syntax as an operator. The last word, typed as-you-go, is a prefix too.
    """
    text = (text or "")[:MAX_QUERY]
    terms: list[Term] = []
    for match in re.finditer(r'"([^"]*)"?|(\S+)', text):
        phrase, token = match.group(1), match.group(2)
        raw = phrase if phrase is not None else token
        words = tuple(w.lower() for w in re.findall(r"\w+", raw))
        if not words:
            continue
        prefix = phrase is None and token.endswith("*")
        terms.append(Term(words, prefix))
    if terms and not terms[-1].phrase and not text.endswith((" ", '"')):
        last = terms[-1]
        if len(last.words[0]) >= 3:
            terms[-1] = Term(last.words, True)
    return terms[:MAX_TERMS]


def _pg_tsquery(terms: list[Term]) -> str:
    parts = []
    for term in terms:
        if term.phrase:
            parts.append("(" + " <-> ".join(term.words) + ")")
        else:
            parts.append(term.words[0] + (":*" if term.prefix else ""))
    return " & ".join(parts)


def _fts5_query(terms: list[Term]) -> str:
    parts = []
    for term in terms:
        quoted = '"' + " ".join(term.words) + '"'
        parts.append(quoted + ("*" if term.prefix and not term.phrase else ""))
    return " ".join(parts)


def _mark(snippet: str | None) -> str:
    """Escape everything, then let only our own <mark> through."""
    text = html.escape(snippet or "")
    return text.replace(START, "<mark>").replace(STOP, "</mark>")


def _on_postgres() -> bool:
    return connection.vendor == "postgresql"


# -- indexing ----------------------------------------------------------------------------
def index_article(article: Article) -> None:
    """Bring the article's index entry up to date; call inside the changing transaction."""
    if _on_postgres():
        cfg = config()
        Article.objects.filter(pk=article.pk).update(
            search_vector=SearchVector("title", weight="A", config=cfg)
            + SearchVector("summary", "tags", weight="B", config=cfg)
            + SearchVector("body", weight="C", config=cfg)
        )
        return
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM knowledge_article_fts WHERE rowid = %s", [article.pk])
        cursor.execute(
            "INSERT INTO knowledge_article_fts(rowid, title, summary, tags, body) "
            "VALUES (%s, %s, %s, %s, %s)",
            [article.pk, article.title, article.summary, article.tags, article.body],
        )


def index_ticket(ticket_id: int) -> None:
    """SQLite keeps a ticket FTS table; PostgreSQL indexes the columns themselves."""
    if _on_postgres():
        return
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM knowledge_ticket_fts WHERE rowid = %s", [ticket_id])
        cursor.execute(
            "INSERT INTO knowledge_ticket_fts(rowid, title, description) "
            "SELECT id, title, description FROM core_ticket WHERE id = %s",
            [ticket_id],
        )


# -- articles -------------------------------------------------------------------------------
def tag_filter(tag: str) -> Q:
    tag = tag.strip().lower()
    return (
        Q(tags=tag)
        | Q(tags__startswith=tag + " ")
        | Q(tags__endswith=" " + tag)
        | Q(tags__contains=" " + tag + " ")
    )


def filtered_articles(
    user, *, category: int | None = None, kind: str | None = None, tag: str | None = None
) -> QuerySet:
    qs = published_for(user)
    if category:
        qs = qs.filter(Q(category_id=category) | Q(category__parent_id=category))
    if kind:
        qs = qs.filter(kind=kind)
    if tag:
        qs = qs.filter(tag_filter(tag))
    return qs


def search_articles(
    user,
    q: str,
    *,
    limit: int = 20,
    category: int | None = None,
    kind: str | None = None,
    tag: str | None = None,
) -> list[Hit]:
    """Published articles ``user`` may read that match ``q``, best first."""
    terms = parse_query(q)
    if not terms:
        return []
    base = filtered_articles(user, category=category, kind=kind, tag=tag)
    if _on_postgres():
        rows = _pg_articles(base, terms, q, limit)
    else:
        rows = _sqlite_articles(base, terms, limit)
    return [
        Hit(
            kind="article",
            number=a.number,
            title=a.title,
            snippet=_mark(snippet) if snippet else html.escape(a.summary),
            web_url=a.web_url,
            url=a.get_absolute_url(),
            rank=rank,
            extra={"summary": a.summary, "article_kind": a.kind},
        )
        for a, rank, snippet in rows
    ]


def _pg_articles(base: QuerySet, terms: list[Term], raw: str, limit: int):
    cfg = config()
    query = SearchQuery(_pg_tsquery(terms), search_type="raw", config=cfg)
    text = Concat("summary", Value(" "), "body", output_field=TextField())
    qs = (
        base.filter(search_vector=query)
        .annotate(
            rank=SearchRank(F("search_vector"), query),
            snippet=SearchHeadline(
                text,
                query,
                config=cfg,
                start_sel=START,
                stop_sel=STOP,
                max_words=30,
                min_words=12,
            ),
        )
        .order_by("-rank", "-id")[:limit]
    )
    rows = [(a, a.rank, a.snippet) for a in qs]
    if rows or len(raw.strip()) < 3:
        return rows
    # Nothing in full text: a misspelling? Titles by trigram similarity.
    similar = (
        base.annotate(sim=TrigramSimilarity("title", raw.strip()[:MAX_QUERY]))
        .filter(sim__gte=TRIGRAM_THRESHOLD)
        .order_by("-sim", "-id")[:limit]
    )
    return [(a, a.sim, "") for a in similar]


def _sqlite_articles(base: QuerySet, terms: list[Term], limit: int):
    ids_sql, ids_params = base.values("pk").query.sql_with_params()
    sql = (
        "SELECT rowid, bm25(knowledge_article_fts, 10.0, 4.0, 4.0, 1.0) AS r, "  # noqa: S608 - ORM-built or constant SQL; user input is bound
        "snippet(knowledge_article_fts, -1, %s, %s, '…', 16) "
        "FROM knowledge_article_fts WHERE knowledge_article_fts MATCH %s "
        f"AND rowid IN ({ids_sql}) ORDER BY r, rowid DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [START, STOP, _fts5_query(terms), *ids_params, limit])
        found = cursor.fetchall()
    articles = Article.objects.in_bulk([row[0] for row in found])
    return [(articles[i], -r, s) for i, r, s in found if i in articles]


# -- incidents ------------------------------------------------------------------------------
_PG_TICKET_DOC = (
    "to_tsvector('english'::regconfig, coalesce(core_ticket.title, '') || ' ' || "
    "coalesce(core_ticket.description, ''))"
)


def search_incidents(user, q: str, *, limit: int = 20) -> list[Hit]:
    """Incidents ``user`` may see whose title or description matches (agents' search)."""
    from mainspring.core.models import Ticket

    terms = parse_query(q)
    if not terms:
        return []
    base = visible_tickets(user, Ticket.objects.filter(kind="incident"))
    if _on_postgres():
        tsq = _pg_tsquery(terms)
        # The document expression matches the GIN index of migration 0002 exactly.
        qs = (
            base.annotate(
                rank=RawSQL(  # noqa: S611 - constant SQL; input is bound
                    f"ts_rank({_PG_TICKET_DOC}, to_tsquery('english'::regconfig, %s))", [tsq]
                ),
                snippet=RawSQL(
                    "ts_headline('english'::regconfig, coalesce(core_ticket.title, '') || ' — ' "
                    "|| coalesce(core_ticket.description, ''), "
                    "to_tsquery('english'::regconfig, %s), %s)",
                    [tsq, f"StartSel={START}, StopSel={STOP}, MaxWords=30, MinWords=12"],
                ),
            )
            .extra(  # noqa: S610 - ORM-built or constant SQL; user input is bound
                where=[f"{_PG_TICKET_DOC} @@ to_tsquery('english'::regconfig, %s)"], params=[tsq]
            )
            .order_by("-rank", "-id")[:limit]
        )
        rows = [(t, t.rank, t.snippet) for t in qs]
    else:
        ids_sql, ids_params = base.values("pk").query.sql_with_params()
        sql = (
            "SELECT rowid, bm25(knowledge_ticket_fts, 5.0, 1.0) AS r, "  # noqa: S608 - ORM-built or constant SQL; user input is bound
            "snippet(knowledge_ticket_fts, -1, %s, %s, '…', 16) "
            "FROM knowledge_ticket_fts WHERE knowledge_ticket_fts MATCH %s "
            f"AND rowid IN ({ids_sql}) ORDER BY r, rowid DESC LIMIT %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [START, STOP, _fts5_query(terms), *ids_params, limit])
            found = cursor.fetchall()
        tickets = Ticket.objects.in_bulk([row[0] for row in found])
        rows = [(tickets[i], -r, s) for i, r, s in found if i in tickets]
    return [
        Hit(
            kind="incident",
            number=t.number,
            title=t.title,
            snippet=_mark(snippet),
            web_url=t.web_url,
            url=t.get_absolute_url(),
            rank=rank,
            extra={"state": t.state},
        )
        for t, rank, snippet in rows
    ]


def search(user, q: str, *, kinds: tuple[str, ...] | None = None, limit: int = 20) -> list[Hit]:
    """Everything ``user`` may see that matches: articles, plus incidents for agents."""
    kinds = kinds or KINDS
    hits: list[Hit] = []
    if "article" in kinds:
        hits += search_articles(user, q, limit=limit)
    if "incident" in kinds and is_agent(user):
        hits += search_incidents(user, q, limit=limit)
    return hits
