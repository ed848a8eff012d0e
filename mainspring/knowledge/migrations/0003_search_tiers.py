"""Small search vectors beside the full one, for tiered, bounded ranking (PostgreSQL).

``search_title`` (title, weight A) and ``search_head`` (title A, summary and tags B) are
a few hundred bytes, stored inline in the row and GIN-indexed, so search can find title
and summary matches without reading (de-TOASTing) the whole document's vector. Existing
articles are filled here with the expressions ``search.index_article`` writes. On SQLite
the columns stay empty: FTS5 column filters play the same part.
"""

import re

import django.contrib.postgres.search
from django.conf import settings
from django.db import migrations

PG_INDEXES = [
    "CREATE INDEX IF NOT EXISTS kb_article_title_gin ON knowledge_article USING GIN (search_title)",
    "CREATE INDEX IF NOT EXISTS kb_article_head_gin ON knowledge_article USING GIN (search_head)",
]
PG_DROP = [
    "DROP INDEX IF EXISTS kb_article_head_gin",
    "DROP INDEX IF EXISTS kb_article_title_gin",
]


def _config() -> str:
    name = getattr(settings, "KNOWLEDGE_SEARCH_CONFIG", "english")
    return name if re.fullmatch(r"[a-z_]+", name) else "english"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from django.contrib.postgres.search import SearchVector

    cfg = _config()
    Article = apps.get_model("knowledge", "Article")
    title = SearchVector("title", weight="A", config=cfg)
    Article.objects.update(
        search_title=title,
        search_head=title + SearchVector("summary", "tags", weight="B", config=cfg),
    )
    for sql in PG_INDEXES:
        schema_editor.execute(sql)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for sql in PG_DROP:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0002_search_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="article",
            name="search_head",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="article",
            name="search_title",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.RunPython(forward, backward),
    ]
