"""Fill a throw-away database with published knowledge articles for bench/knowledge_run.py.

    createdb -h 127.0.0.1 -U postgres kb_bench
    export MAINSPRING_DATABASE_URL=postgres://postgres@127.0.0.1:5432/kb_bench
    export MAINSPRING_DATA_DIR=/tmp/ms-kbbench
    .venv/bin/mainspring migrate
    .venv/bin/python bench/knowledge_generate.py --articles 100000 --truncate

Articles are IT-support prose (a few hundred words) built from word lists and templates,
so term frequencies look like a real knowledge base: product names are rare, words such
as "password" or "restart" common. Rows go in with ``bulk_create`` in batches, skipping
the services; the search structures are then filled per batch with the very expressions
``search.index_article`` writes (PostgreSQL: the title, head and full vectors) or the
same FTS5 insert (SQLite), and a sample is re-indexed through ``index_article`` and
compared, so the bench measures the index the application would have built.

On PostgreSQL each batch is followed by a plain ``VACUUM``: filling the vectors is an
UPDATE of every new row (as the services' save-then-index is), and without it the
table would end up twice its size in dead rows that autovacuum would have reclaimed
for reuse in a live system.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mainspring.settings")

import django  # noqa: E402

django.setup()

from django.contrib.postgres.search import SearchVector  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from mainspring.identity.models import AssignmentGroup, Membership, Role, User  # noqa: E402
from mainspring.knowledge import search  # noqa: E402
from mainspring.knowledge.models import Article, ArticleKind, Audience  # noqa: E402

PASSWORD = "bench-password"
START_NUMBER = 1001

PRODUCTS = [
    "VPN", "Outlook", "Teams", "Zoom", "printer", "laptop", "docking station", "Wi-Fi",
    "SharePoint", "OneDrive", "Excel", "Word", "PowerPoint", "Chrome", "Firefox", "Edge",
    "Windows", "macOS", "iPhone", "Android phone", "monitor", "headset", "webcam",
    "keyboard", "mouse", "badge reader", "SAP", "Salesforce", "Jira", "Confluence",
    "Slack", "Citrix", "remote desktop", "network drive", "scanner", "calendar",
    "mailbox", "antivirus", "BitLocker", "MFA app", "password manager", "Adobe Reader",
    "Visual Studio", "Git client", "desk phone", "conference room display", "projector",
    "USB drive", "external disk", "battery", "charger", "BIOS", "firewall", "proxy",
    "DNS", "certificate", "shared mailbox", "distribution list", "expense tool", "HR portal",
]  # fmt: skip
SYMPTOMS = [
    "does not start", "keeps disconnecting", "is very slow", "shows an error",
    "cannot connect", "stopped syncing", "freezes", "crashes on startup",
    "asks for the password again",
    "drops the connection", "is not detected", "prints blank pages", "will not update",
    "shows a certificate warning", "runs out of battery quickly", "loses settings after restart",
    "displays the wrong time", "cannot find the server", "rejects the login", "is locked",
]  # fmt: skip
TASKS = [
    "set up", "install", "configure", "reset", "update", "replace", "connect", "remove",
    "back up", "restore", "share", "move", "request access to", "troubleshoot", "enable",
    "disable", "clean", "calibrate", "migrate", "renew",
]  # fmt: skip
NOUNS = [
    "password", "account", "connection", "profile", "cache", "driver", "license", "settings",
    "permissions", "token", "session", "cable", "adapter", "folder", "file", "update",
    "certificate", "network", "server", "device", "battery", "screen", "sync", "calendar",
    "login", "email", "attachment", "signature", "queue", "port", "policy", "group",
]  # fmt: skip
VERBS = [
    "restart", "check", "open", "close", "select", "click", "confirm", "verify", "wait for",
    "sign out of", "sign in to", "unplug", "reconnect", "delete", "rename", "download",
    "upload", "clear", "reinstall", "note",
]  # fmt: skip
ADJ = [
    "new", "old", "company", "personal", "shared", "default", "latest", "local", "remote",
    "primary", "secondary", "corporate", "temporary", "encrypted", "managed",
]  # fmt: skip
TAGS = [
    "vpn", "email", "printing", "hardware", "network", "security", "access", "mobile",
    "software", "collaboration", "storage", "onboarding", "offboarding", "windows", "mac",
    "telephony", "meeting-rooms", "finance", "hr", "development",
]  # fmt: skip
SENTENCES = [
    "If the {p} {s}, {v} the {a} {n} first and try again.",
    "Most users see this after a {a} {n} was pushed by IT overnight.",
    "Open the {p} settings, {v} the {n} and {v2} the {a} {n2}.",
    "When the {n} is {a}, the {p} may refuse the {n2} until you {v} it.",
    "This usually happens when the {n} expired or the {n2} was changed on another device.",
    "Do not {v} the {n} while the {p} is still syncing; wait a minute.",
    "You can {v} the {n} yourself; no ticket is needed for a {a} {n2}.",
    "Contact the service desk if the {p} still {s} after these steps.",
    "On a company laptop the {a} {n} is managed centrally, so local changes are reset.",
    "Remote workers must be on the VPN before the {p} can reach the {n}.",
    "A reboot clears the {n} and fixes most cases where the {p} {s}.",
    "Check that your {n} meets the policy: twelve characters and not used before.",
    "The {p} logs the {n} errors; attach the log when you report an incident.",
    "Keep the {a} {n} until the service desk confirms the {n2} works.",
    "If you are unsure, {v} the {n} and note the exact error message.",
]  # fmt: skip


def _sentence(rnd: random.Random, product: str, symptom: str) -> str:
    t = rnd.choice(SENTENCES)
    return t.format(
        p=product if rnd.random() < 0.6 else rnd.choice(PRODUCTS),
        s=symptom if rnd.random() < 0.5 else rnd.choice(SYMPTOMS),
        v=rnd.choice(VERBS),
        v2=rnd.choice(VERBS),
        a=rnd.choice(ADJ),
        n=rnd.choice(NOUNS),
        n2=rnd.choice(NOUNS),
    )


def make_article(rnd: random.Random) -> dict:
    """One article's text fields: a few hundred words of support prose."""
    product, symptom, task = rnd.choice(PRODUCTS), rnd.choice(SYMPTOMS), rnd.choice(TASKS)
    noun = rnd.choice(NOUNS)
    kind = rnd.choices(list(ArticleKind.values), weights=[40, 35, 15, 10])[0]
    if kind == ArticleKind.HOW_TO:
        title = f"How to {task} the {rnd.choice(ADJ)} {product} {noun}"
    elif kind == ArticleKind.TROUBLESHOOTING:
        title = f"{product} {symptom}"
    elif kind == ArticleKind.FAQ:
        title = f"Why does my {product} {noun} need a {rnd.choice(NOUNS)}?"
    else:
        title = f"Known error: {product} {symptom} after the {rnd.choice(ADJ)} {noun} update"
    summary = " ".join(_sentence(rnd, product, symptom) for _ in range(2))
    parts = []
    for heading in ("Symptoms", "Cause", "Resolution", "More information"):
        parts.append(f"## {heading}\n")
        for _ in range(rnd.randint(2, 4)):
            parts.append(
                " ".join(_sentence(rnd, product, symptom) for _ in range(rnd.randint(2, 4)))
            )
            parts.append("")
        if heading == "Resolution":
            parts += [
                f"{i}. {rnd.choice(VERBS).capitalize()} the {rnd.choice(NOUNS)}."
                for i in range(1, 6)
            ]
            parts.append("")
    tags = " ".join(sorted(set(rnd.sample(TAGS, rnd.randint(1, 3)))))
    return {
        "title": title[:200],
        "summary": summary[:500],
        "body": "\n".join(parts),
        "tags": tags,
        "kind": kind,
    }


def _user(username: str, role: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User.objects.create_user(username=username, password=PASSWORD, role=role)
    return user


VECTORS = ("search_title", "search_head", "search_vector")


def _search_vectors() -> dict:
    """Exactly what search.index_article stores (checked against it at the end)."""
    cfg = search.config()
    title = SearchVector("title", weight="A", config=cfg)
    head = title + SearchVector("summary", "tags", weight="B", config=cfg)
    return {
        "search_title": title,
        "search_head": head,
        "search_vector": head + SearchVector("body", weight="C", config=cfg),
    }


def _index_range(lo: int, hi: int) -> None:
    if connection.vendor == "postgresql":
        Article.objects.filter(pk__gte=lo, pk__lte=hi).update(**_search_vectors())
        with connection.cursor() as cursor:
            cursor.execute(
                search.PG_ADD_WORDS + " WHERE id BETWEEN %s AND %s" + search.PG_ADD_WORDS_END,
                [lo, hi],
            )
        return
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM knowledge_article_fts WHERE rowid BETWEEN %s AND %s", [lo, hi])
        cursor.execute(
            "INSERT INTO knowledge_article_fts(rowid, title, summary, tags, body) "
            "SELECT id, title, summary, tags, body FROM knowledge_article "
            "WHERE id BETWEEN %s AND %s",
            [lo, hi],
        )


def _verify(sample: list[int]) -> None:
    """Re-index a few articles through the application and compare."""
    for pk in sample:
        article = Article.objects.get(pk=pk)
        if connection.vendor == "postgresql":
            before = Article.objects.filter(pk=pk).values_list(*VECTORS)[0]
            with transaction.atomic():
                search.index_article(article)
            after = Article.objects.filter(pk=pk).values_list(*VECTORS)[0]
        else:
            sql = "SELECT title, summary, tags, body FROM knowledge_article_fts WHERE rowid = %s"
            with connection.cursor() as cursor:
                cursor.execute(sql, [pk])
                before = cursor.fetchone()
                search.index_article(article)
                cursor.execute(sql, [pk])
                after = cursor.fetchone()
        if before != after:
            raise SystemExit(f"index mismatch for article {pk}: bench fill differs from service")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=5_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--truncate", action="store_true", help="delete every article first")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    t0 = time.perf_counter()

    author = _user("bench-kb-author", Role.AGENT)
    _user("bench-kb-agent", Role.AGENT)
    requester = _user("bench-kb-user", Role.REQUESTER)
    groups = [
        AssignmentGroup.objects.get_or_create(name=f"KB bench group {i}")[0] for i in range(5)
    ]
    # The requester belongs to one group, so group-audience articles are partly visible.
    Membership.objects.get_or_create(group=groups[0], user=requester)

    if args.truncate:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("TRUNCATE knowledge_article RESTART IDENTITY CASCADE")
                cursor.execute("TRUNCATE knowledge_searchword")
            else:
                cursor.execute("DELETE FROM knowledge_article_groups")
                cursor.execute("DELETE FROM knowledge_article_fts")
                cursor.execute("DELETE FROM knowledge_article")
    first = (Article.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    number = START_NUMBER + Article.objects.count()
    now = timezone.now()
    through = Article.groups.through
    made = 0
    while made < args.articles:
        n = min(args.batch, args.articles - made)
        rows, group_of = [], {}
        for i in range(n):
            fields = make_article(rnd)
            r = rnd.random()
            audience = (
                Audience.AGENTS if r < 0.12 else Audience.GROUPS if r < 0.15 else Audience.EVERYONE
            )
            published = now - timedelta(days=rnd.randint(0, 1500))
            rows.append(
                Article(
                    number=f"KB{number + made + i:07d}",
                    state="published",
                    revision=1,
                    audience=audience,
                    author=author,
                    reviewer=author,
                    created_at=published,
                    updated_at=published,
                    published_at=published,
                    **fields,
                )
            )
            if audience == Audience.GROUPS:
                group_of[i] = rnd.choice(groups)
        with transaction.atomic():
            created = Article.objects.bulk_create(rows)
            through.objects.bulk_create(
                through(article_id=created[i].pk, assignmentgroup_id=g.pk)
                for i, g in group_of.items()
            )
            _index_range(created[0].pk, created[-1].pk)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM knowledge_article")
        made += n
        print(f"  {made:>7,} articles  {time.perf_counter() - t0:6.1f} s", flush=True)

    last = number + made - 1
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT setval('ticket_number_kb', %s)", [last])
            cursor.execute("VACUUM ANALYZE knowledge_article")
            cursor.execute("ANALYZE knowledge_article_groups")
        else:
            from mainspring.core.models import NumberSequence

            NumberSequence.objects.update_or_create(prefix="KB", defaults={"last_value": last})
            # Merge the FTS5 index's segments into one, as VACUUM ANALYZE tidies PostgreSQL:
            # after --truncate (delete every row, insert them again) the index is in many
            # segments full of delete markers, and searches read two to three times as
            # many pages.
            cursor.execute(
                "INSERT INTO knowledge_article_fts(knowledge_article_fts) VALUES('optimize')"
            )
            cursor.execute("ANALYZE")
    ids = list(Article.objects.filter(pk__gte=first).values_list("pk", flat=True)[:3])
    _verify(ids)
    print(f"done: {made:,} articles in {time.perf_counter() - t0:.1f} s (index verified)")


if __name__ == "__main__":
    main()
