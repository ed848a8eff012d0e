"""One search interface over knowledge articles and incidents, two backends.

Relevance is tiered, and each tier ranks a bounded set of candidates, so a search costs
about the same whether a word is in ten articles or in all of them:

1. **title** matches (every term in the title),
2. **summary/tags** matches (every term in title, summary or tags, not all in the title),
3. **body** matches (the rest).

A tier takes at most ``max(CANDIDATES, limit)`` matching articles the user may read,
ranks them and yields its best; a lower tier is only searched while fewer than
``limit`` results have been found. A title match therefore always comes before a
summary or tag match, and both before a body-only match. Where a tier has more matches
than candidates, the result is the best of those candidates, not of every match: that
is the price of a bounded search (docs/knowledge.md, "Search").

PostgreSQL: ``search_title`` (title, A) and ``search_head`` (title A, summary and tags
B) are small GIN-indexed tsvectors stored in the row; ``search_vector`` (head plus body,
C) is the whole document, TOASTed. The title and summary tiers take the newest matches
(``ORDER BY id DESC LIMIT k``: a backward primary-key scan or a bitmap scan, both only
reading the small vectors) and rank them with ``ts_rank`` on ``search_head``; the body
tier takes the first ``k`` matches the GIN index yields (a CTE planned for full
retrieval, so a bitmap scan unless the words are in most rows: reading the TOASTed
vector of every row in id order would cost more than the whole search) and ranks them
on ``search_vector``. ``ts_headline`` runs on the returned rows only, over the summary
and a window of the body around the first match. A quoted phrase is looked up by its
words (the index cannot check word order) in at most ``PHRASE_SCAN`` rows per tier.
When nothing matches, each word is replaced by the most similar word of the articles'
vocabulary (``knowledge_searchword``, pg_trgm) and the search runs once more.

SQLite: FTS5 with the porter stemmer; tiers are column filters (``{title} : (...)``);
candidates are the newest matches (``ORDER BY rowid DESC LIMIT k`` walks the doclist
backwards and stops); ``bm25`` with the same column weights; ``snippet()`` for the
returned rows only. No typo tolerance.

Visibility is never the index's business: every candidate query is built from a
queryset of the policy (``published_for`` / ``visible_tickets``), compiled into the SQL
(PostgreSQL, where the planner pulls it up into the tier's scan) or checked row by row
in a correlated ``EXISTS`` (SQLite), so a search can only narrow what the user may
already see, in results, counts and snippets alike. Snippets are escaped, then only
``<mark>`` is added back.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from mainspring.core import registry
from mainspring.identity.policy import is_agent, visible_tickets

from .models import Article
from .policy import published_for

__all__ = [
    "Hit",
    "Term",
    "index_article",
    "index_ticket",
    "optimize_index",
    "parse_query",
    "search",
    "search_articles",
    "search_incidents",
    "search_tickets",
    "searchable_kinds",
    "tickets_matching",
    "title_terms",
]

MAX_QUERY = 200
MAX_TERMS = 8
# A prefix shorter than this would match a large part of the vocabulary.
MIN_PREFIX = 3
# Candidates ranked per tier (at least ``limit``).
CANDIDATES = 50
# Sentinels around matches; the text is escaped first, then they become <mark>.
START, STOP = "\x02", "\x03"
# Typo tolerance (PostgreSQL): words this long are corrected when nothing matches.
TRIGRAM_MIN_WORD = 4
# A quoted phrase's words are looked up in the index; the phrase itself is checked on
# at most this many of those rows per tier.
PHRASE_SCAN = 500


def searchable_kinds() -> tuple[str, ...]:
    """What search finds: articles, and every registered ticket kind (core.registry)."""
    return ("article", *registry.kinds())


TITLE, HEAD, BODY = 0, 1, 2
HEADLINE_OPTIONS = f"StartSel={START}, StopSel={STOP}, MaxWords=30, MinWords=12"
# The body window ts_headline reads: from a little before the first match.
WINDOW_BEFORE, WINDOW_CHARS = 100, 400


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
    Prefixes need at least ``MIN_PREFIX`` characters.
    """
    text = (text or "")[:MAX_QUERY]
    terms: list[Term] = []
    for match in re.finditer(r'"([^"]*)"?|(\S+)', text):
        phrase, token = match.group(1), match.group(2)
        raw = phrase if phrase is not None else token
        words = tuple(w.lower() for w in re.findall(r"\w+", raw))
        if not words:
            continue
        prefix = phrase is None and token.endswith("*") and len(words[-1]) >= MIN_PREFIX
        terms.append(Term(words, prefix))
    if terms and not terms[-1].phrase and not text.endswith((" ", '"')):
        last = terms[-1]
        if len(last.words[0]) >= MIN_PREFIX:
            terms[-1] = Term(last.words, True)
    return terms[:MAX_TERMS]


def _pg_tsquery(terms: list[Term], *, phrases: bool = True) -> str:
    """``to_tsquery`` text; ``phrases=False`` asks for a phrase's words in any order."""
    parts = []
    for term in terms:
        if term.phrase:
            parts.append("(" + (" <-> " if phrases else " & ").join(term.words) + ")")
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


def _sql(qs: QuerySet) -> tuple[str, tuple] | None:
    """The queryset's SQL and parameters; None when it can match nothing."""
    try:
        return qs.query.sql_with_params()
    except EmptyResultSet:
        return None


# -- indexing ----------------------------------------------------------------------------
# The typo-tolerance vocabulary (migration 0005): the words of every article.
PG_ADD_WORDS = (
    "INSERT INTO knowledge_searchword (word) SELECT DISTINCT w FROM ("
    "SELECT regexp_split_to_table("
    r"lower(title || ' ' || summary || ' ' || tags || ' ' || body), '\W+') AS w "
    "FROM knowledge_article"
)
# Sorted, so that two transactions adding the same new words never wait on each other
# in opposite orders.
PG_ADD_WORDS_END = ") words WHERE length(w) BETWEEN 4 AND 40 ORDER BY 1 ON CONFLICT DO NOTHING"


def _pg_vectors(cfg: str) -> dict:
    title = SearchVector("title", weight="A", config=cfg)
    head = title + SearchVector("summary", "tags", weight="B", config=cfg)
    return {
        "search_title": title,
        "search_head": head,
        "search_vector": head + SearchVector("body", weight="C", config=cfg),
    }


def index_article(article: Article) -> None:
    """Bring the article's index entry up to date; call inside the changing transaction."""
    if _on_postgres():
        Article.objects.filter(pk=article.pk).update(**_pg_vectors(config()))
        with connection.cursor() as cursor:
            cursor.execute(PG_ADD_WORDS + " WHERE id = %s" + PG_ADD_WORDS_END, [article.pk])
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


# Words too common in ticket titles to say two tickets are alike (SQLite's porter
# tokenizer keeps stop words; PostgreSQL's English configuration drops these already).
_TITLE_NOISE = frozenset(
    "a an and are as at be but by can cannot for from has have i in into is it its my no "
    "not of on or our please the this to was we when with".split()
)


def title_terms(ticket_ids: list[int]) -> dict[int, list[str]]:
    """Each ticket's title as the search index sees it: stemmed words, stop words out.

    PostgreSQL stems with the configuration of the ticket index; SQLite reads the ticket
    FTS5 table's own terms (fts5vocab), so both compare tickets the way search does.
    """
    if not ticket_ids:
        return {}
    terms: dict[int, list[str]] = {}
    with connection.cursor() as cursor:
        if _on_postgres():
            cursor.execute(
                "SELECT id, tsvector_to_array(to_tsvector('english'::regconfig, "
                "coalesce(title, ''))) FROM core_ticket WHERE id = ANY(%s)",
                [list(ticket_ids)],
            )
            for ticket_id, words in cursor.fetchall():
                terms[ticket_id] = [w for w in words if len(w) > 1]
            return terms
        cursor.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.knowledge_ticket_terms "
            "USING fts5vocab(main, knowledge_ticket_fts, instance)"
        )
        for start in range(0, len(ticket_ids), 500):
            chunk = list(ticket_ids[start : start + 500])
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                "SELECT doc, term FROM temp.knowledge_ticket_terms "  # noqa: S608 - placeholders only
                f"WHERE col = 'title' AND doc IN ({marks}) ORDER BY doc, offset",
                chunk,
            )
            for ticket_id, word in cursor.fetchall():
                if len(word) > 1 and word not in _TITLE_NOISE and not word.isdigit():
                    terms.setdefault(ticket_id, []).append(word)
    return terms


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
    if not terms or limit < 1:
        return []
    base = filtered_articles(user, category=category, kind=kind, tag=tag)
    if _on_postgres():
        rows = _pg_articles(base, terms, limit)
    else:
        rows = _sqlite_articles(base, terms, limit)
    hits = []
    for a, rank, snippet in rows:
        url = a.get_absolute_url()
        hits.append(
            Hit(
                kind="article",
                number=a.number,
                title=a.title,
                snippet=_mark(snippet) if snippet else html.escape(a.summary),
                web_url=settings.BASE_URL + url,  # Article.web_url, without a second reverse()
                url=url,
                rank=rank,
                extra={"summary": a.summary, "article_kind": a.kind},
            )
        )
    return hits


def _best(found: list[tuple], limit: int) -> list[tuple]:
    """(id, tier, rank, ...) rows: by tier, then rank (higher first), then newest."""
    return sorted(found, key=lambda row: (row[1], -row[2], -row[0]))[:limit]


_ARTICLE_FIELDS = ("id", "number", "title", "summary", "kind")


def _article(row: tuple) -> Article:
    """An Article with just the fields a hit shows, from (id, number, title, summary, kind)."""
    return Article(**dict(zip(_ARTICLE_FIELDS, row, strict=True)))


def _pg_articles(base: QuerySet, terms: list[Term], limit: int, *, corrected: bool = False):
    cfg = config()
    compiled = _sql(base.order_by().values("id", "search_vector", "search_title", "search_head"))
    if compiled is None:
        return []
    q = [cfg, _pg_tsquery(terms)]
    # A phrase's word order is checked on the row, never by the index, so rows are
    # first found by all of its words (the index's job), at most PHRASE_SCAN of them.
    q_all = [cfg, _pg_tsquery(terms, phrases=False)] if any(t.phrase for t in terms) else None
    k = max(CANDIDATES, limit)

    def tier(number: int, rank: str, match: str, exclude: str | None, newest: bool, n: int):
        sql, params = _pg_candidates(
            compiled, rank=rank, match=match, exclude=exclude, newest=newest, k=k, q=q, q_all=q_all
        )
        return _pg_tier(number, sql, params, q, n)

    # Title and summary/tags tiers in one statement: they read (and rank) the small
    # inline vectors only, newest matches first.
    title = tier(TITLE, "search_head", "search_title", None, True, limit)
    head = tier(HEAD, "search_head", "search_head", "search_title", True, limit)
    found = _pg_fetch(f"{title[0]} UNION ALL {head[0]}", title[1] + head[1], terms, q, limit)
    if len(found) < limit:
        # Body-only matches: the first k the GIN index yields (a CTE is planned for full
        # retrieval, i.e. a bitmap scan unless most rows match), so that the TOASTed
        # document is only read for rows that match.
        rest = limit - len(found)
        body = tier(BODY, "search_vector", "search_vector", "search_head", False, rest)
        found += _pg_fetch(body[0], body[1], terms, q, rest)
    if not found and not corrected:
        # Nothing at all: a misspelling? Once more with each word replaced by the most
        # similar known word (trigrams over the vocabulary, not over every title).
        fixed = _pg_corrected(terms)
        if fixed != terms:
            return _pg_articles(base, fixed, limit, corrected=True)
    return [(_article(row[3:8]), row[2], row[8]) for row in found]


_TSQUERY = "to_tsquery(%s::regconfig, %s)"


def _pg_candidates(
    visible: tuple[str, tuple],
    *,
    rank: str,
    match: str,
    exclude: str | None,
    newest: bool,
    k: int,
    q: list,
    q_all: list | None,
) -> tuple[str, list]:
    """SQL and parameters of a tier's candidates: rows (id, v = the vector to rank by).

    Rows of ``visible`` (the policy's queryset, pulled up by PostgreSQL) whose ``match``
    vector matches and whose ``exclude`` vector (a higher tier) does not; at most ``k``:
    the newest (``newest``) or the first the index yields.
    """
    sql, params = visible[0], list(visible[1])
    cols = f"b.id, b.{rank} AS v, b.{match} AS f" + (f", b.{exclude} AS x" if exclude else "")
    select = f"SELECT {cols} FROM ({sql}) b WHERE b.{match} @@ {_TSQUERY}"  # noqa: S608 - ORM-built or constant SQL; input is bound
    if q_all is None:
        params += q
        if exclude:
            select += f" AND NOT coalesce(b.{exclude} @@ {_TSQUERY}, false)"
            params += q
        return _pg_first(select, newest), [*params, k]
    # A phrase: the first PHRASE_SCAN rows with all its words that the index yields (in
    # any order: the newest of them could be far apart in a backward scan), then the
    # phrase itself on those rows.
    where, outer = f"c.f @@ {_TSQUERY}", list(q)
    if exclude:
        where += f" AND NOT coalesce(c.x @@ {_TSQUERY}, false)"
        outer += q
    order = " ORDER BY c.id DESC" if newest else ""
    return (
        f"SELECT c.id, c.v FROM ({_pg_first(select, False)}) c WHERE {where}{order} LIMIT %s",  # noqa: S608 - ORM-built or constant SQL; input is bound
        [*params, *q_all, PHRASE_SCAN, *outer, k],
    )


def _pg_first(select: str, newest: bool) -> str:
    """``select`` limited to %s rows: the newest, or the first a full-retrieval plan yields."""
    if newest:
        return select + " ORDER BY b.id DESC LIMIT %s"
    return f"WITH m AS MATERIALIZED ({select}) SELECT * FROM m LIMIT %s"  # noqa: S608 - ORM-built or constant SQL; input is bound


def _pg_tier(number: int, candidates: str, params: list, q: list, limit: int):
    """Rank a tier's candidates: SQL of (id, tier, r), best ``limit`` first, and params."""
    sql = (
        f"(SELECT c.id, {number} AS tier, ts_rank(c.v, {_TSQUERY}) AS r "  # noqa: S608 - ORM-built or constant SQL; input is bound
        f"FROM ({candidates}) c ORDER BY r DESC, c.id DESC LIMIT %s)"
    )
    return sql, [*q, *params, limit]


def _pg_fetch(tiers: str, params: list, terms: list[Term], q: list, limit: int):
    """The best ``limit`` rows of ``tiers`` with the fields a hit shows and a snippet.

    The snippet is ``ts_headline`` over the summary and a window of the body around the
    first match (parsing a whole ~700-word body costs about half a millisecond per
    article): the window starts a little before the earliest occurrence of any query
    word's stem (a stem ending in "i" is cut by one letter: "batteri" is in "battery"),
    at a word boundary. Computed for the returned rows only (the ranked subquery is
    limited first).
    """
    cfg = q[0]
    words = " ".join(w for term in terms for w in term.words)
    sql = (
        "SELECT t.id, t.tier, t.r, a.id, a.number, a.title, a.summary, a.kind, "  # noqa: S608 - ORM-built or constant SQL; input is bound
        "ts_headline(%s::regconfig, a.summary || ' ' || CASE WHEN w.s > 1 "
        r"THEN regexp_replace(substr(a.body, w.s, %s), '^\S*\s+', '') "
        f"ELSE substr(a.body, 1, %s) END, {_TSQUERY}, %s) "
        f"FROM (SELECT * FROM ({tiers}) u ORDER BY tier, r DESC, id DESC LIMIT %s) t "
        "JOIN knowledge_article a ON a.id = t.id "
        "CROSS JOIN LATERAL (SELECT greatest(1, coalesce(("
        "SELECT min(nullif(strpos(lower(a.body), "
        "CASE WHEN length(l) > 3 AND right(l, 1) = 'i' THEN left(l, -1) ELSE l END), 0)) "
        "FROM unnest(tsvector_to_array(to_tsvector(%s::regconfig, %s))) AS l), 1) - %s) AS s) w "
        "ORDER BY t.tier, t.r DESC, t.id DESC"
    )
    headline = [cfg, WINDOW_CHARS, WINDOW_CHARS, *q, HEADLINE_OPTIONS]
    window = [cfg, words, WINDOW_BEFORE]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*headline, *params, limit, *window])
        return cursor.fetchall()


def _pg_corrected(terms: list[Term]) -> list[Term]:
    """``terms`` with each word of TRIGRAM_MIN_WORD letters or more replaced by the most
    similar word of the vocabulary (pg_trgm ``%``: similarity of at least 0.3)."""
    words = sorted({w for term in terms for w in term.words if len(w) >= TRIGRAM_MIN_WORD})
    if not words:
        return terms
    sql = (
        "SELECT q.w, (SELECT s.word FROM knowledge_searchword s WHERE s.word %% q.w "
        "ORDER BY similarity(s.word, q.w) DESC, s.word LIMIT 1) "
        "FROM unnest(%s::text[]) AS q(w)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [[w[:40] for w in words]])
        best = {w: fix for w, fix in cursor.fetchall() if fix}
    return [
        Term(tuple(best.get(w, w) for w in term.words), term.prefix and not term.phrase)
        for term in terms
    ]


_FTS_WEIGHTS = "10.0, 4.0, 4.0, 1.0"  # title, summary, tags, body
_FTS_TIERS = (
    (TITLE, "{{title}} : ({q})"),
    (HEAD, "({{title summary tags}} : ({q})) NOT ({{title}} : ({q}))"),
    (BODY, "({q}) NOT ({{title summary tags}} : ({q}))"),
)


def _sqlite_articles(base: QuerySet, terms: list[Term], limit: int):
    # Visible rows: the policy's queryset, checked per candidate (correlated EXISTS).
    # A plain ``rowid IN (...)`` would be pushed into FTS5 as one lookup per id.
    compiled = _sql(
        base.filter(pk=RawSQL("knowledge_article_fts.rowid", ())).order_by().values("pk")
    )
    if compiled is None:
        return []
    visible, visible_params = compiled
    k = max(CANDIDATES, limit)
    match = _fts5_query(terms)
    sql = (
        f"SELECT rowid, %s, -bm25(knowledge_article_fts, {_FTS_WEIGHTS}) AS r "  # noqa: S608 - ORM-built or constant SQL; user input is bound
        "FROM knowledge_article_fts WHERE knowledge_article_fts MATCH %s "
        f"AND EXISTS ({visible}) ORDER BY rowid DESC LIMIT %s"
    )
    found: list[tuple] = []
    with connection.cursor() as cursor:
        for number, pattern in _FTS_TIERS:
            if len(found) >= limit:
                break
            cursor.execute(sql, [number, pattern.format(q=match), *visible_params, k])
            found += _best(cursor.fetchall(), limit)
    best = _best(found, limit)
    if not best:
        return []
    ids = [row[0] for row in best]
    # The rows themselves and their snippets, in one pass over the matches in the ids'
    # range. ``+rowid IN`` filters after the scan; a bare ``rowid IN`` would be handed to
    # FTS5, which then runs the whole query once per id.
    marks = ", ".join(["%s"] * len(ids))
    sql = (
        "SELECT a.id, a.number, a.title, a.summary, a.kind, "  # noqa: S608 - constant SQL; input is bound
        "snippet(knowledge_article_fts, -1, %s, %s, '…', 16) "
        "FROM knowledge_article_fts JOIN knowledge_article a ON a.id = knowledge_article_fts.rowid "
        "WHERE knowledge_article_fts MATCH %s AND knowledge_article_fts.rowid BETWEEN %s AND %s "
        f"AND +knowledge_article_fts.rowid IN ({marks})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [START, STOP, match, min(ids), max(ids), *ids])
        rows = {row[0]: row for row in cursor.fetchall()}
    return [(_article(rows[i][:5]), r, rows[i][5]) for i, _tier, r in best if i in rows]


def _sqlite_snippets(table: str, match: str, ids: list[int]) -> dict[int, str]:
    """snippet() for these rows only, in one pass over the matches in their id range.

    ``+rowid IN (...)`` is a filter after the scan: a bare ``rowid IN`` would be handed
    to FTS5, which then runs the whole query once per id.
    """
    marks = ", ".join(["%s"] * len(ids))
    sql = (
        f"SELECT rowid, snippet({table}, -1, %s, %s, '…', 16) FROM {table} "  # noqa: S608 - constant SQL; input is bound
        f"WHERE {table} MATCH %s AND rowid BETWEEN %s AND %s AND +rowid IN ({marks})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [START, STOP, match, min(ids), max(ids), *ids])
        return dict(cursor.fetchall())


# -- incidents ------------------------------------------------------------------------------
_PG_TICKET_DOC = (
    "to_tsvector('english'::regconfig, coalesce(core_ticket.title, '') || ' ' || "
    "coalesce(core_ticket.description, ''))"
)


def search_incidents(user, q: str, *, limit: int = 20) -> list[Hit]:
    """Incidents ``user`` may see that match (``search_tickets`` for one kind)."""
    return search_tickets(user, q, kinds=("incident",), limit=limit)


def search_tickets(
    user, q: str, *, kinds: tuple[str, ...] | None = None, limit: int = 20
) -> list[Hit]:
    """Tickets of ``kinds`` (default: every practice) that ``user`` may see whose title
    or description matches (agents' search).

    The newest ``CANDIDATES`` matches are ranked (one tier: tickets have no summary).
    """
    from mainspring.core.models import Ticket

    terms = parse_query(q)
    if not terms or limit < 1:
        return []
    kinds = tuple(k for k in (kinds or registry.kinds()) if k != "article")
    if not kinds:
        return []
    base = visible_tickets(user, Ticket.objects.filter(kind__in=kinds))
    k = max(CANDIDATES, limit)
    if _on_postgres():
        tsq = _pg_tsquery(terms)
        # The document expression matches the GIN index of migration 0002 exactly.
        compiled = _sql(
            base.extra(  # noqa: S610 - constant SQL; input is bound
                where=[f"{_PG_TICKET_DOC} @@ to_tsquery('english'::regconfig, %s)"], params=[tsq]
            )
            .order_by("-id")
            .values("id")[:k]
        )
        if compiled is None:
            return []
        sql = (
            f"SELECT core_ticket.id, ts_rank({_PG_TICKET_DOC}, "  # noqa: S608 - ORM-built or constant SQL; input is bound
            "to_tsquery('english'::regconfig, %s)) AS r "
            f"FROM core_ticket JOIN ({compiled[0]}) c ON c.id = core_ticket.id "
            "ORDER BY r DESC, core_ticket.id DESC LIMIT %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [tsq, *compiled[1], limit])
            best = cursor.fetchall()
        tickets = (
            base.filter(pk__in=[row[0] for row in best])
            .annotate(
                snippet=RawSQL(
                    "ts_headline('english'::regconfig, coalesce(core_ticket.title, '') || ' — ' "
                    "|| coalesce(core_ticket.description, ''), "
                    "to_tsquery('english'::regconfig, %s), %s)",
                    [tsq, HEADLINE_OPTIONS],
                )
            )
            .in_bulk()
        )
        rows = [(tickets[i], r, tickets[i].snippet) for i, r in best if i in tickets]
    else:
        compiled = _sql(
            base.filter(pk=RawSQL("knowledge_ticket_fts.rowid", ())).order_by().values("pk")
        )
        if compiled is None:
            return []
        match = _fts5_query(terms)
        sql = (
            "SELECT rowid, 0, -bm25(knowledge_ticket_fts, 5.0, 1.0) AS r "  # noqa: S608 - ORM-built or constant SQL; user input is bound
            "FROM knowledge_ticket_fts WHERE knowledge_ticket_fts MATCH %s "
            f"AND EXISTS ({compiled[0]}) ORDER BY rowid DESC LIMIT %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [match, *compiled[1], k])
            best = _best(cursor.fetchall(), limit)
        if not best:
            return []
        ids = [row[0] for row in best]
        snippets = _sqlite_snippets("knowledge_ticket_fts", match, ids)
        tickets = base.filter(pk__in=ids).in_bulk()
        rows = [(tickets[i], r, snippets.get(i)) for i, _tier, r in best if i in tickets]
    return [
        Hit(
            kind=t.kind,
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
    """Everything ``user`` may see that matches: articles, plus tickets of every kind for
    agents."""
    kinds = kinds or searchable_kinds()
    hits: list[Hit] = []
    if "article" in kinds:
        hits += search_articles(user, q, limit=limit)
    ticket_kinds = tuple(k for k in kinds if k != "article")
    if ticket_kinds and is_agent(user):
        hits += search_tickets(user, q, kinds=ticket_kinds, limit=limit)
    return hits


def tickets_matching(qs: QuerySet, text: str) -> QuerySet:
    """``qs`` narrowed to tickets whose title or description matches ``text``.

    A filter, not a ranking: the queue and the API keep their own order and keyset
    pages. Words are stemmed (``printers`` finds ``printer``); ``word*`` is a prefix; a
    quoted phrase keeps its order. PostgreSQL reads the GIN index on the ticket text,
    SQLite the ticket FTS5 table. Text with no word in it matches nothing.
    """
    # A trailing space: no as-you-type prefix on the last word of a submitted filter.
    terms = parse_query((text or "") + " ")
    if not terms:
        return qs.none()
    if _on_postgres():
        tsq = _pg_tsquery(terms)
        with connection.cursor() as cursor:
            cursor.execute("SELECT numnode(to_tsquery('english'::regconfig, %s))", [tsq])
            (nodes,) = cursor.fetchone()
        if not nodes:
            # Only stop words ("is down": both are on PostgreSQL's English list) make a
            # query that matches nothing: look for the text in the title as typed.
            # (Django escapes % and _ in icontains.)
            return qs.filter(title__icontains=text.strip())
        return qs.extra(  # noqa: S610 - constant SQL; the query text is bound
            where=[f"{_PG_TICKET_DOC} @@ to_tsquery('english'::regconfig, %s)"],
            params=[tsq],
        )
    return qs.filter(
        pk__in=RawSQL(
            "SELECT rowid FROM knowledge_ticket_fts WHERE knowledge_ticket_fts MATCH %s",
            [_fts5_query(terms)],
        )
    )


FTS_TABLES = ("knowledge_article_fts", "knowledge_ticket_fts")


def optimize_index() -> None:
    """Merge SQLite's full-text index segments into one (FTS5 ``optimize``).

    Every indexed change adds a segment; a busy install's queries slow down as they
    pile up (measured: three-word searches over 10k articles from p95 21 ms to 32 ms).
    PostgreSQL's GIN indexes are maintained by (auto)vacuum: nothing to do there.
    """
    if _on_postgres():
        return
    with connection.cursor() as cursor:
        for table in FTS_TABLES:
            cursor.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")  # noqa: S608 - constant names
