"""The words of articles (title, summary, tags, body), for typo tolerance (PostgreSQL).

When a search finds nothing, each query word is replaced by the most similar known word
(pg_trgm, GIN-indexed) and the search runs once more: a trigram search over a few
thousand distinct words instead of re-checking thousands of article titles. Words are
added by ``search.index_article`` and never removed (a stale word only yields no hits).
The title trigram index of 0002, which this replaces, is dropped. Nothing on SQLite,
which has no typo tolerance.
"""

from django.db import migrations

PG_FORWARD = [
    "CREATE TABLE IF NOT EXISTS knowledge_searchword (word varchar(40) PRIMARY KEY)",
    "CREATE INDEX IF NOT EXISTS kb_searchword_trgm ON knowledge_searchword "
    "USING GIN (word gin_trgm_ops)",
    "INSERT INTO knowledge_searchword (word) SELECT DISTINCT w FROM knowledge_article, "
    "regexp_split_to_table("
    r"lower(title || ' ' || summary || ' ' || tags || ' ' || body), '\W+') AS w "
    "WHERE length(w) BETWEEN 4 AND 40 ON CONFLICT DO NOTHING",
    # Replaced: the title trigram index (0002) had every candidate title re-checked on
    # its row, tens of milliseconds at 100,000 articles.
    "DROP INDEX IF EXISTS kb_article_title_trgm",
]
PG_BACKWARD = [
    "DROP TABLE IF EXISTS knowledge_searchword",
    "CREATE INDEX IF NOT EXISTS kb_article_title_trgm ON knowledge_article "
    "USING GIN (title gin_trgm_ops)",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0004_article_attachments"),
    ]

    operations = [
        migrations.RunPython(_run(PG_FORWARD), _run(PG_BACKWARD)),
    ]
