"""Problem management at scale: 50,000 problems beside 1M incidents (docs/performance.md).

Run after ``bench/generate.py`` on the same throw-away PostgreSQL database:

    .venv/bin/python bench/problem_run.py --problems 50000

Adds the problems with one INSERT … SELECT per table (numbers continue the PRB
sequence; every 10th problem explains five incidents), then times, in-process with
Django's test client as an agent: the problem API list's first page and a filtered
one, and ``problems.candidates.find_candidates`` over the newest 30 days.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mainspring.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from mainspring.identity.models import User  # noqa: E402
from mainspring.problems.candidates import find_candidates  # noqa: E402


def add_problems(count: int) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM core_ticket WHERE kind = 'problem'")
        if cur.fetchone()[0] >= count:
            return
        cur.execute("CREATE SEQUENCE IF NOT EXISTS ticket_number_prb START 1001")
        cur.execute("SELECT id FROM identity_user WHERE role = 'agent' ORDER BY id LIMIT 1")
        agent = cur.fetchone()[0]
        t = time.perf_counter()
        cur.execute(
            """
            WITH made AS (
              INSERT INTO core_ticket (number, kind, title, description, state, is_open,
                impact, urgency, priority, channel, requester_id, opened_by_id,
                assignment_group_id, assignee_id, created_at, updated_at, version)
              SELECT 'PRB' || lpad(nextval('ticket_number_prb')::text, 7, '0'), 'problem',
                'Recurring failure ' || g, 'Seen in several incidents.',
                (ARRAY['new','assess','root_cause_analysis','fix_in_progress','resolved',
                       'closed','closed','closed'])[1 + g %% 8],
                g %% 8 < 4, 'medium', 'medium', 3, 'ui', %s, %s,
                (SELECT id FROM identity_assignmentgroup ORDER BY id LIMIT 1 OFFSET g %% 10),
                CASE WHEN g %% 3 = 0 THEN NULL ELSE %s END,
                now() - (g || ' minutes')::interval, now() - (g || ' minutes')::interval, 1
              FROM generate_series(1, %s) g
              RETURNING id
            )
            INSERT INTO problems_problem (ticket_id, root_cause, workaround, known_error,
              fix_notes, resolution_code, resolution_notes)
            SELECT id, '', '', false, '', '', '' FROM made
            """,
            [agent, agent, agent, count],
        )
        # Every 10th problem explains five older incidents.
        cur.execute(
            """
            UPDATE incidents_incident i SET caused_by_id = p.ticket_id
            FROM (SELECT ticket_id, row_number() OVER (ORDER BY ticket_id) AS n
                  FROM problems_problem) p
            WHERE p.n % 10 = 0 AND i.ticket_id BETWEEN 1000 + p.n * 5 AND 1004 + p.n * 5
            """
        )
        cur.execute("ANALYZE core_ticket; ANALYZE problems_problem; ANALYZE incidents_incident")
        print(f"added {count} problems in {time.perf_counter() - t:.1f} s")


def timed(fn, iterations: int) -> tuple[float, float]:
    times = []
    for _ in range(iterations):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--problems", type=int, default=50_000)
    p.add_argument("--iterations", type=int, default=100)
    args = p.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run against the PostgreSQL bench database (MAINSPRING_DATABASE_URL).")
    add_problems(args.problems)
    agent = User.objects.filter(role="agent", is_active=True).order_by("id").first()
    client = Client()
    client.force_login(agent)
    rows = []
    for name, path in [
        ("problem API list, first page", "/api/v1/problems/"),
        ("problem API list, open ones", "/api/v1/problems/?is_open=true"),
        ("incident API list, first page", "/api/v1/incidents/"),
    ]:
        for _ in range(5):
            assert client.get(path).status_code == 200, path
        p50, p95 = timed(lambda path=path: client.get(path), args.iterations)
        rows.append((name, path, p50, p95))
    t = time.perf_counter()
    groups = find_candidates(agent)
    once = (time.perf_counter() - t) * 1000
    p50, p95 = timed(lambda: find_candidates(agent), 5)
    rows.append(("problem candidates (30 days)", "find_candidates", p50, p95))
    print("| case | path | p50 ms | p95 ms |")
    print("|---|---|---|---|")
    for name, path, p50, p95 in rows:
        print(f"| {name} | `{path}` | {p50:.1f} | {p95:.1f} |")
    print(
        f"\ncandidates: first call {once:.0f} ms, {len(groups)} groups, largest "
        f"{groups[0].size if groups else 0} incidents"
    )


if __name__ == "__main__":
    main()
