"""Search structures that differ per database; each runs only where it applies.

PostgreSQL: pg_trgm, a GIN index on the article's weighted tsvector, a trigram index on
titles (typo tolerance), and an expression GIN index on ticket title + description so
the agent workspace's incident search is index-backed too.
SQLite: FTS5 tables with the porter stemmer, kept in sync by the services (articles)
and a ticket event subscriber (tickets).
"""

from django.db import migrations

PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE SEQUENCE IF NOT EXISTS ticket_number_kb START 1001",
    "CREATE INDEX IF NOT EXISTS kb_article_search_gin ON knowledge_article "
    "USING GIN (search_vector)",
    "CREATE INDEX IF NOT EXISTS kb_article_title_trgm ON knowledge_article "
    "USING GIN (title gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS kb_ticket_text_gin ON core_ticket USING GIN "
    "(to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || coalesce(description, '')))",
]
PG_BACKWARD = [
    "DROP INDEX IF EXISTS kb_ticket_text_gin",
    "DROP INDEX IF EXISTS kb_article_title_trgm",
    "DROP INDEX IF EXISTS kb_article_search_gin",
]
SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS knowledge_article_fts USING fts5("
    "title, summary, tags, body, tokenize='porter unicode61')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS knowledge_ticket_fts USING fts5("
    "title, description, tokenize='porter unicode61')",
    "INSERT INTO knowledge_ticket_fts(rowid, title, description) "
    "SELECT id, title, coalesce(description, '') FROM core_ticket",
]
SQLITE_BACKWARD = [
    "DROP TABLE IF EXISTS knowledge_ticket_fts",
    "DROP TABLE IF EXISTS knowledge_article_fts",
]


def _run(statements):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        wanted = statements.get(vendor, [])
        for sql in wanted:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]
