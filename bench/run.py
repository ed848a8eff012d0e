"""Measure Mainspring at scale: p50/p95 server time of the hot pages, beside their SQL.

    MAINSPRING_DATABASE_URL=postgres://postgres@127.0.0.1:5432/mainspring_bench \\
        .venv/bin/python bench/run.py

(a)-(c) run in-process through Django's test client (the full middleware, view,
serializer and template stack, without the network), so "server time" is what a
worker spends on the request. Each case also captures its SQL once and re-runs every
SELECT under ``EXPLAIN ANALYZE`` to report the database's own execution time and the
indexes the plan used. (d) starts a real gunicorn on 127.0.0.1 and POSTs incidents
from two concurrent HTTP clients. Prints a Markdown table.

Run bench/generate.py first. The run leaves a few thousand extra incidents (from (d))
and revokes the API token it made.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mainspring.settings")

import warnings  # noqa: E402

import django  # noqa: E402

# whitenoise warns once per client about a missing STATIC_ROOT; irrelevant here.
warnings.filterwarnings("ignore", message="No directory at")
django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import Resolver404, resolve  # noqa: E402

from mainspring.identity.models import User  # noqa: E402
from mainspring.identity.services import create_api_token, revoke_api_token  # noqa: E402

TARGET_MS = 50.0
TARGET_CREATE = 150.0


@dataclass
class Result:
    name: str
    path: str
    times_ms: list[float] = field(default_factory=list)
    queries: int = 0
    sql_main_ms: float | None = None
    sql_exec_ms: float | None = None
    sql_plan_ms: float | None = None
    indexes: list[str] = field(default_factory=list)
    note: str = ""
    target: float | None = TARGET_MS

    def pct(self, q: float) -> float | None:
        if not self.times_ms:
            return None
        ordered = sorted(self.times_ms)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# --- SQL timing ---------------------------------------------------------------------------


def _plan_indexes(node: dict, found: list[str]) -> None:
    name = node.get("Index Name")
    if name and name not in found:
        found.append(name)
    if node.get("Node Type") == "Seq Scan":
        label = f"Seq Scan on {node.get('Relation Name')}"
        if label not in found:
            found.append(label)
    for child in node.get("Plans", []):
        _plan_indexes(child, found)


def explain(sql: str, repeat: int) -> tuple[float, float, list[str]]:
    """Median execution and planning time (ms) of ``sql``, and the indexes its plan uses."""
    execs, plans, indexes = [], [], []
    with connection.cursor() as cur:
        for _ in range(repeat):
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            raw = cur.fetchone()[0]
            doc = (json.loads(raw) if isinstance(raw, str) else raw)[0]
            execs.append(doc["Execution Time"])
            plans.append(doc["Planning Time"])
            indexes = []
            _plan_indexes(doc["Plan"], indexes)
    return statistics.median(execs), statistics.median(plans), indexes


def measure_sql(result: Result, captured: list[dict], repeat: int) -> None:
    """Re-run the SELECTs a request issued; the slowest one is "the" query of the page."""
    result.queries = len(captured)
    total_exec, total_plan, main, main_idx = 0.0, 0.0, 0.0, []
    for q in captured:
        sql = q["sql"].lstrip()
        if sql.startswith("DECLARE") and " FOR SELECT " in sql:
            # A server-side cursor (ModelChoiceField iterates with one): time its SELECT.
            sql = sql[sql.index(" FOR SELECT ") + 5 :]
        if not sql.upper().startswith("SELECT"):
            continue  # never EXPLAIN ANALYZE a write: it would run it again
        exec_ms, plan_ms, idx = explain(sql, repeat)
        total_exec += exec_ms
        total_plan += plan_ms
        if exec_ms + plan_ms >= main:
            main, main_idx = exec_ms + plan_ms, idx
    result.sql_main_ms, result.indexes = main, main_idx
    result.sql_exec_ms, result.sql_plan_ms = total_exec, total_plan


# --- In-process cases ----------------------------------------------------------------------


def url_exists(path: str) -> bool:
    try:
        resolve(path.split("?", 1)[0])
    except Resolver404:
        return False
    return True


def run_case(
    client: Client,
    name: str,
    paths,
    iterations: int,
    warmup: int,
    repeat: int,
    headers: dict | None = None,
) -> Result:
    """Time ``iterations`` GETs; ``paths`` is a path or a callable giving one per call."""
    pick = paths if callable(paths) else (lambda: paths)
    first = pick()
    result = Result(name, first)
    if not url_exists(first):
        result.note = "endpoint not built yet"
        return result
    headers = headers or {}
    for _ in range(warmup):
        resp = client.get(pick(), headers=headers)
    if resp.status_code != 200:
        result.note = f"HTTP {resp.status_code}"
        return result
    for _ in range(iterations):
        path = pick()
        t = time.perf_counter()
        resp = client.get(path, headers=headers)
        result.times_ms.append((time.perf_counter() - t) * 1000)
        if resp.status_code != 200:
            result.note = f"HTTP {resp.status_code} for {path}"
            result.times_ms.clear()
            return result
    with CaptureQueriesContext(connection) as ctx:
        client.get(first, headers=headers)
    measure_sql(result, ctx.captured_queries, repeat)
    return result


def busiest_agent() -> User:
    """The bench agent with the most open assigned tickets: the worst "my work" queue."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT t.assignee_id FROM core_ticket t JOIN identity_user u ON u.id = t.assignee_id "
            "WHERE t.is_open AND u.role = 'agent' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
        row = cur.fetchone()
    if row is None:
        sys.exit("No open assigned incidents: run bench/generate.py first.")
    return User.objects.get(pk=row[0])


def random_numbers(count: int, seed: int) -> list[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT min(id), max(id) FROM core_ticket WHERE kind = 'incident'")
        lo, hi = cur.fetchone()
        rnd = random.Random(seed)
        ids = [rnd.randint(lo, hi) for _ in range(count * 2)]
        cur.execute(
            "SELECT number FROM core_ticket WHERE id = ANY(%s) AND kind = 'incident'", [ids]
        )
        numbers = [r[0] for r in cur.fetchall()]
    rnd.shuffle(numbers)
    return numbers[:count]


# --- Create throughput over real HTTP -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args: argparse.Namespace, port: int) -> subprocess.Popen:
    venv_bin = Path(sys.executable).parent
    if args.server == "serve":
        cmd = [str(venv_bin / "mainspring"), "serve", "--no-worker", "--bind", f"127.0.0.1:{port}"]
    else:
        cmd = [
            str(venv_bin / "gunicorn"),
            "mainspring.wsgi",
            "-k",
            "gthread",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=os.environ.copy())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {' '.join(cmd)}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("server did not answer /healthz within 30 s")


def create_payload(i: int, group_id: int | None) -> dict:
    body = {
        "title": f"Bench create {i}: VPN cannot connect",
        "description": "Created by bench/run.py to measure create throughput.",
        "impact": "medium",
        "urgency": "low",
    }
    if group_id:
        body["assignment_group"] = group_id
    return body


def create_throughput(args: argparse.Namespace, token: str, group_id: int | None) -> Result:
    result = Result(
        f"API create, {args.clients} concurrent clients", "POST /api/v1/incidents/", target=None
    )
    if not url_exists("/api/v1/incidents/"):
        result.note = "endpoint not built yet"
        return result
    port = free_port()
    proc = start_server(args, port)
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + args.create_seconds

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if not args.keep_alive:
            headers["Connection"] = "close"
        for i in range(args.create_count):
            if time.monotonic() > stop_at:
                break
            payload = json.dumps(create_payload(n * 1_000_000 + i, group_id))
            t = time.perf_counter()
            if not args.keep_alive:
                # A new connection per request, as nginx's default proxy_pass makes: the
                # kernel hands it to whichever web process accepts first. Two keep-alive
                # connections instead stay where they landed, both in one process half
                # of the time, which measures one core (bimodal: ~100/s or ~180/s).
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/api/v1/incidents/", body=payload, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            elapsed = (time.perf_counter() - t) * 1000
            with lock:
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
                if resp.status == 201:
                    result.times_ms.append(elapsed)
                elif statuses[resp.status] == 1:
                    print(f"create answered {resp.status}: {body[:300]!r}", file=sys.stderr)
        conn.close()

    try:
        # Warm both workers (imports, connections) before the clock starts.
        warm = threading.Thread(target=lambda: None)
        warm.start()
        warm.join()
        for _ in range(4):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/healthz")
            c.getresponse().read()
            c.close()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    ok = statuses.get(201, 0)
    result.sql_main_ms = None
    result.note = (
        f"{ok} created in {wall:.1f} s = **{ok / wall:.0f} incidents/s** "
        f"(target ≥ {TARGET_CREATE:.0f}); statuses {dict(sorted(statuses.items()))}"
    )
    result.rate = ok / wall  # type: ignore[attr-defined]
    return result


def create_sql(client: Client, token: str, group_id: int | None, repeat: int) -> str:
    """What one create costs in SQL: statement count and the database time of its writes."""
    headers = {"Authorization": f"Bearer {token}"}
    with CaptureQueriesContext(connection) as ctx:
        t = time.perf_counter()
        resp = client.post(
            "/api/v1/incidents/",
            data=create_payload(0, group_id),
            content_type="application/json",
            headers=headers,
        )
        elapsed = (time.perf_counter() - t) * 1000
    if resp.status_code != 201:
        return f"in-process create answered {resp.status_code}"
    db = sum(float(q["time"]) for q in ctx.captured_queries) * 1000
    return (
        f"one create in-process: {elapsed:.1f} ms, {len(ctx.captured_queries)} statements, "
        f"{db:.1f} ms of it waiting on PostgreSQL"
    )


# --- Report ---------------------------------------------------------------------------------


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def verdict(r: Result) -> str:
    p95 = r.pct(0.95)
    if r.target is None or p95 is None:
        return ""
    return "✅" if p95 <= r.target else "❌"


def report(results: list[Result], create: Result | None, extra: list[str], args) -> str:
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M %Z')} on {platform.node()} "
        f"({os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"PostgreSQL {connection.cursor().connection.info.server_version / 10000:.0f}); "
        f"{ticket_count():,} tickets; {args.iterations} timed requests per row; "
        f"load average before the run {args.load_before}.",
        "",
        "| case | path | p50 ms | p95 ms | target p95 | | queries | main query ms "
        "| all SQL: execute ms | all SQL: plan ms | main query's plan uses |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if not r.times_ms:
            lines.append(
                f"| {r.name} | `{r.path}` | - | - | ≤ {TARGET_MS:.0f} | | | | | | {r.note} |"
            )
            continue
        lines.append(
            f"| {r.name} | `{r.path}` | {fmt(r.pct(0.5))} | {fmt(r.pct(0.95))} "
            f"| ≤ {TARGET_MS:.0f} | {verdict(r)} | {r.queries} | {fmt(r.sql_main_ms)} "
            f"| {fmt(r.sql_exec_ms)} | {fmt(r.sql_plan_ms)} | {', '.join(r.indexes) or '-'} |"
        )
    if create is not None:
        rate = getattr(create, "rate", None)
        ok = "✅" if rate is not None and rate >= TARGET_CREATE else ("❌" if rate else "")
        lines.append("")
        lines.append("| case | requests | p50 ms | p95 ms | throughput | target | |")
        lines.append("|---|---:|---:|---:|---|---|---|")
        lines.append(
            f"| {create.name} | {len(create.times_ms)} | {fmt(create.pct(0.5))} "
            f"| {fmt(create.pct(0.95))} | {create.note} | ≥ {TARGET_CREATE:.0f}/s | {ok} |"
        )
    lines += [""] + [f"- {e}" for e in extra]
    return "\n".join(lines)


def ticket_count() -> int:
    with connection.cursor() as cur:
        # The planner's estimate: exact enough for a label and never a 1M-row count.
        cur.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'core_ticket'")
        return int(cur.fetchone()[0])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iterations", type=int, default=200, help="timed requests per case")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--sql-repeat", type=int, default=10, help="EXPLAIN ANALYZE runs per query")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--only", choices=["reads", "create"], help="run one half only")
    p.add_argument("--clients", type=int, default=2, help="concurrent create clients")
    p.add_argument("--worker-class", default="gthread", help="gunicorn worker class")
    p.add_argument(
        "--keep-alive",
        action="store_true",
        help="create clients reuse one connection each (default: a connection per request)",
    )
    p.add_argument("--create-count", type=int, default=1500, help="creates per client (max)")
    p.add_argument("--create-seconds", type=float, default=30.0, help="stop creating after")
    p.add_argument("--server", choices=["gunicorn", "serve"], default="gunicorn")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    p.add_argument(
        "--mine-query",
        default="assignee=me",
        help="query string of the agent queue's 'my work' view",
    )
    args = p.parse_args(argv)
    if connection.vendor != "postgresql":
        sys.exit("bench/run.py measures PostgreSQL: set MAINSPRING_DATABASE_URL.")

    args.load_before = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    agent = busiest_agent()
    token_obj, token = create_api_token(agent, "bench/run.py")
    group_id = agent.assignment_groups.values_list("id", flat=True).first()
    results: list[Result] = []
    extra: list[str] = [f"agent: {agent.username} (the busiest bench agent)"]
    create = None
    try:
        if args.only != "create":
            web = Client(raise_request_exception=False)
            web.force_login(agent)
            api = Client(raise_request_exception=False)
            bearer = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            numbers = random_numbers(max(args.iterations + args.warmup, 50), args.seed)
            it = iter(numbers * 3)
            n, w, r = args.iterations, args.warmup, args.sql_repeat
            results.append(
                run_case(web, "Agent queue, all open (first page)", "/incidents/", n, w, r)
            )
            results.append(
                run_case(
                    web,
                    "Agent queue, my work (first page)",
                    f"/incidents/?{args.mine_query}",
                    n,
                    w,
                    r,
                )
            )
            results.append(
                run_case(
                    web,
                    "Agent queue, my groups' work (first page)",
                    "/incidents/?group=mine",
                    n,
                    w,
                    r,
                )
            )
            results.append(
                run_case(api, "API list (first page)", "/api/v1/incidents/", n, w, r, bearer)
            )
            results.append(
                run_case(
                    api,
                    "API list, in progress + P1",
                    "/api/v1/incidents/?state=in_progress&priority=1",
                    n,
                    w,
                    r,
                    bearer,
                )
            )
            results.append(
                run_case(
                    web, "Incident detail page (random)", lambda: f"/incidents/{next(it)}/", n, w, r
                )
            )
            results.append(
                run_case(
                    api,
                    "API detail (random)",
                    lambda: f"/api/v1/incidents/{next(it)}/",
                    n,
                    w,
                    r,
                    bearer,
                )
            )
        if args.only != "reads":
            if url_exists("/api/v1/incidents/"):
                extra.append(
                    create_sql(
                        Client(raise_request_exception=False), token, group_id, args.sql_repeat
                    )
                )
            create = create_throughput(args, token, group_id)
            connections = (
                "one keep-alive connection each" if args.keep_alive else "a connection per request"
            )
            extra.append(
                f"create server: gunicorn gthread, {args.workers} workers x {args.threads} "
                f"threads, no task worker running; {args.clients} HTTP clients, {connections}"
                if args.server == "gunicorn"
                else f"create server: mainspring serve --no-worker; {connections}"
            )
    finally:
        revoke_api_token(token_obj, by=agent)
    print(report(results, create, extra, args))


if __name__ == "__main__":
    main()
