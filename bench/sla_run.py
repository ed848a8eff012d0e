"""Measure the SLA engine at scale: the escalation sweep, deadlines, the compliance report.

    MAINSPRING_DATABASE_URL=postgres://postgres@127.0.0.1:5432/sla_bench \\
    MAINSPRING_DATA_DIR=/tmp/ms-slabench .venv/bin/python bench/sla_run.py

Run bench/sla_generate.py first. Everything runs in-process against the bench database,
at the generator's reference time ``now`` (``bench_sla_meta``), through the real code:

(a) ``services.sweep(now=now)`` with nothing due: many runs, p50/p95/max, plus the
    claiming query under ``EXPLAIN ANALYZE``;
(b) the same sweep with exactly ``--due`` (1,000) timers due: before each run that many
    random running timers get ``next_threshold_at = now - 1 min`` (committed), the sweep
    fires their next threshold with its real actions (``SlaEscalation`` row, notification
    ``Delivery`` rows and their tasks, work notes), the run checks that exactly 1,000
    escalations were recorded and nothing is left due, then puts the timers back and
    deletes what the run wrote;
(c) deadlines on calendars with holidays: ``calendar.add_business_us`` from random
    starts (UK office hours + bank holidays, and Paris with a lunch break + French
    holidays + closing days) and ``services._schedule`` of one timer (its three
    deadlines, as starting a timer computes them), mean and p95 per call, warm and cold;
(d) ``mainspring.sla.report.compliance`` over the past year, by sla/group/priority/month,
    if that module exists, with its SQL under ``EXPLAIN ANALYZE``.

Prints Markdown; ``--save FILE`` also appends the figures as one JSON line.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import math
import os
import random
import statistics
import sys
import time
import warnings
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mainspring.settings")
warnings.filterwarnings("ignore", message="No directory at")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from mainspring.sla import calendar as cal  # noqa: E402
from mainspring.sla import services  # noqa: E402
from mainspring.sla.models import BusinessCalendar, SlaTimer  # noqa: E402

PARIS = "Paris office (lunch break, FR holidays)"
RESTORE_COLS = [
    ("state", "text"),
    ("next_percent", "smallint"),
    ("next_threshold_at", "timestamptz"),
    ("breached_at", "timestamptz"),
    ("breach_at", "timestamptz"),
    ("at_risk_at", "timestamptz"),
    ("running_since", "timestamptz"),
    ("banked_us", "bigint"),
    ("stopped_at", "timestamptz"),
    ("priority", "smallint"),
    ("assignment_group_id", "bigint"),
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def stats(values: list[float]) -> dict:
    return {
        "n": len(values),
        "mean": statistics.fmean(values),
        "p50": pct(values, 0.5),
        "p95": pct(values, 0.95),
        "max": max(values),
    }


def scalar(sql: str, params=()) -> object:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def bench_now():
    from datetime import datetime

    value = scalar("SELECT value FROM bench_sla_meta WHERE key = 'now'")
    return datetime.fromisoformat(value)


def explain(sql: str, params, repeat: int = 5) -> dict:
    """Median execution/planning ms of one statement and the indexes its plan uses."""
    execs, plans, indexes = [], [], []

    def walk(node: dict) -> None:
        name = node.get("Index Name") or (
            f"Seq Scan on {node['Relation Name']}" if node.get("Node Type") == "Seq Scan" else None
        )
        if name and name not in indexes:
            indexes.append(name)
        for child in node.get("Plans", []):
            walk(child)

    text = ""
    with connection.cursor() as cur:
        for i in range(repeat):
            cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
            raw = cur.fetchone()[0]
            doc = (json.loads(raw) if isinstance(raw, str) else raw)[0]
            execs.append(doc["Execution Time"])
            plans.append(doc["Planning Time"])
            if i == 0:
                walk(doc["Plan"])
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        text = "\n".join(r[0] for r in cur.fetchall())
    return {
        "exec_ms": statistics.median(execs),
        "plan_ms": statistics.median(plans),
        "indexes": indexes,
        "plan": text,
    }


# -- (a) nothing due ------------------------------------------------------------------------
def sweep_idle(now, iterations: int) -> dict:
    due = scalar("SELECT count(*) FROM sla_slatimer WHERE next_threshold_at <= %s", [now])
    if due:
        sys.exit(f"{due} timers are due at the bench's now: regenerate or clean up first.")
    for _ in range(10):
        services.sweep(now=now)
    times = []
    for _ in range(iterations):
        t = time.perf_counter()
        fired = services.sweep(now=now)
        times.append((time.perf_counter() - t) * 1000)
        assert fired == 0
    with CaptureQueriesContext(connection) as ctx:
        services.sweep(now=now)
    claim = next(q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT"))
    # The claim without FOR UPDATE (EXPLAIN ANALYZE of it outside the sweep's transaction).
    plain = claim.split(" FOR UPDATE")[0]
    return {**stats(times), "queries": len(ctx.captured_queries), "sql": explain(plain, ())}


# -- (b) 1,000 due --------------------------------------------------------------------------
def _watermarks() -> dict:
    return {
        "escalation": scalar("SELECT coalesce(max(id), 0) FROM sla_slaescalation"),
        "delivery": scalar("SELECT coalesce(max(id), 0) FROM notifications_delivery"),
        "journal": scalar("SELECT coalesce(max(id), 0) FROM core_journalentry"),
        "tasks": scalar("SELECT now()"),
    }


def _prime(ids: list[int], now) -> list[tuple]:
    cols = ", ".join(c for c, _ in RESTORE_COLS)
    with connection.cursor() as cur:
        cur.execute(f"SELECT id, {cols} FROM sla_slatimer WHERE id = ANY(%s)", [ids])  # noqa: S608
        saved = cur.fetchall()
        cur.execute(
            "UPDATE sla_slatimer SET next_threshold_at = %s WHERE id = ANY(%s)",
            [now - timedelta(minutes=1), ids],
        )
    return saved


def _restore(saved: list[tuple], marks: dict) -> None:
    columns = list(zip(*saved, strict=True))
    arrays = ", ".join(f"%s::{t}[]" for t in ["bigint"] + [t for _, t in RESTORE_COLS])
    names = ", ".join(["id"] + [c for c, _ in RESTORE_COLS])
    sets = ", ".join(f"{c} = o.{c}" for c, _ in RESTORE_COLS)
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE sla_slatimer t SET {sets} FROM unnest({arrays}) AS o({names}) "  # noqa: S608
            "WHERE t.id = o.id",
            [list(c) for c in columns],
        )
        cur.execute("DELETE FROM sla_slaescalation WHERE id > %s", [marks["escalation"]])
        cur.execute("DELETE FROM notifications_delivery WHERE id > %s", [marks["delivery"]])
        cur.execute("DELETE FROM core_journalentry WHERE id > %s", [marks["journal"]])
        cur.execute(
            "DELETE FROM core_backgroundtask WHERE enqueued_at >= %s",
            [marks["tasks"]],
        )


# What a due sweep writes. This server runs with autovacuum off, so the bench vacuums
# them itself: all of them before the runs, the small ones after each (outside the timing).
WRITTEN = ["sla_slatimer", "sla_slaescalation"]
WRITTEN_SMALL = [
    "notifications_delivery",
    "core_backgroundtask",
    "core_journalentry",
]


def vacuum(tables: list[str]) -> None:
    with connection.cursor() as cur:
        cur.execute(f"VACUUM {', '.join(tables)}")


def sweep_due(now, iterations: int, due: int, seed: int, warmup: int = 3) -> dict:
    candidates = list(
        SlaTimer.objects.filter(next_threshold_at__gt=now).order_by().values_list("id", flat=True)
    )
    if len(candidates) < due:
        sys.exit(f"Only {len(candidates)} running timers; need {due}.")
    rnd = random.Random(seed)
    times, checks, queries = [], [], None
    mix: dict[int, int] = {}
    for i in range(iterations + warmup):
        ids = rnd.sample(candidates, due)
        marks = _watermarks()
        saved = _prime(ids, now)
        for row in saved:
            mix[row[2]] = mix.get(row[2], 0) + 1
        try:
            capture = i == warmup - 1  # the last warm-up run counts the queries
            t = time.perf_counter()
            if capture:
                with CaptureQueriesContext(connection) as ctx:
                    fired = services.sweep(now=now)
            else:
                fired = services.sweep(now=now)
            elapsed = (time.perf_counter() - t) * 1000
            recorded = scalar(
                "SELECT count(*) FROM sla_slaescalation WHERE id > %s", [marks["escalation"]]
            )
            left = scalar("SELECT count(*) FROM sla_slatimer WHERE next_threshold_at <= %s", [now])
            check = {
                "fired": fired,
                "escalations": recorded,
                "left_due": left,
                "deliveries": scalar(
                    "SELECT count(*) FROM notifications_delivery WHERE id > %s",
                    [marks["delivery"]],
                ),
                "tasks": scalar(
                    "SELECT count(*) FROM core_backgroundtask WHERE enqueued_at >= %s",
                    [marks["tasks"]],
                ),
                "work_notes": scalar(
                    "SELECT count(*) FROM core_journalentry WHERE id > %s AND kind = 'work_note'",
                    [marks["journal"]],
                ),
            }
            if fired != due or recorded != due or left:
                raise SystemExit(f"Expected {due} escalations and none left due, got {check}")
            if capture:
                queries = {
                    "count": len(ctx.captured_queries),
                    "sql_ms": sum(float(q["time"]) for q in ctx.captured_queries) * 1000,
                }
            elif i >= warmup:
                times.append(elapsed)
            checks.append(check)
        finally:
            _restore(saved, marks)
            vacuum(WRITTEN_SMALL)
    vacuum(WRITTEN)
    last = checks[-1]
    return {
        **stats(times),
        "times": times,
        "check": last,
        "queries": queries,
        "percent_mix": {str(k): v for k, v in sorted(mix.items(), key=lambda kv: kv[0] or 0)},
    }


# -- (c) deadlines --------------------------------------------------------------------------
def deadlines(now, calls: int, seed: int) -> list[dict]:
    rnd = random.Random(seed)
    now_us = cal._to_us(now)
    out = []
    calendars = [
        BusinessCalendar.objects.get(name__startswith="Office hours"),
        BusinessCalendar.objects.get(name=PARIS),
    ]
    amounts = [4 * 3600, 8 * 3600, 30 * 3600, 50 * 3600]  # the demo SLAs' business targets
    for calendar in calendars:
        config = calendar.as_config()
        starts = [now_us + rnd.randint(-365 * 86400, 365 * 86400) * 10**6 for _ in range(calls)]
        sizes = [rnd.choice(amounts) * 10**6 for _ in range(calls)]

        # Cold: a fresh spec per call (no cached days or holiday years), the first
        # deadline a process computes for a calendar.
        raw = json.dumps(config, sort_keys=True)
        cold = []
        for k in range(50):
            spec = cal._spec_from_json.__wrapped__(raw)
            t = time.perf_counter_ns()
            cal.add_business_us(spec, starts[k], sizes[k])
            cold.append((time.perf_counter_ns() - t) / 1e6)

        spec = cal.spec_for(config)
        for k in range(200):
            cal.add_business_us(spec, starts[k], sizes[k])
        warm = []
        for s, a in zip(starts, sizes, strict=True):
            t = time.perf_counter_ns()
            cal.add_business_us(spec, s, a)
            warm.append((time.perf_counter_ns() - t) / 1e6)

        # One timer's scheduling (breach, at-risk and next threshold), as start_timer does.
        sched = []
        for s, a in zip(starts[:5000], sizes, strict=False):
            timer = SlaTimer(
                duration_seconds=a // 10**6,
                calendar_config=config,
                thresholds=[{"percent": p, "actions": []} for p in (50, 75, 90, 100)],
                next_percent=50,
                running_since=cal._from_us(s),
                started_at=cal._from_us(s),
            )
            t = time.perf_counter_ns()
            services._schedule(timer)
            sched.append((time.perf_counter_ns() - t) / 1e6)
        out.append(
            {
                "calendar": calendar.name,
                "holidays": f"{calendar.holiday_country} + {len(config['holidays'])} closing days",
                "cold": stats(cold),
                "warm": stats(warm),
                "schedule": stats(sched),
            }
        )
    return out


# -- (d) the compliance report ----------------------------------------------------------------
def report(now, iterations: int) -> dict | None:
    if importlib.util.find_spec("mainspring.sla.report") is None:
        return None
    from mainspring.sla import report as rep

    start, end = now - timedelta(days=365), now
    out = {"signature": str(inspect.signature(rep.compliance)), "cases": {}}
    for by in ("sla", "group", "priority", "month"):
        with CaptureQueriesContext(connection) as ctx:
            first = rep.compliance(start=start, end=end, by=by)  # also warms the cache
        times = []
        for _ in range(iterations):
            t = time.perf_counter()
            rep.compliance(start=start, end=end, by=by)
            times.append((time.perf_counter() - t) * 1000)
        sqls = [
            {"sql": q["sql"], **explain(q["sql"], (), repeat=2)}
            for q in ctx.captured_queries
            if q["sql"].lstrip("( ").upper().startswith(("SELECT", "WITH"))
        ]
        out["cases"][by] = {
            **stats(times),
            "rows": len(first.rows),
            "counted": first.total.counted,
            "queries": sqls,
        }
    return out


# -- output ---------------------------------------------------------------------------------
def f(v: float) -> str:
    return f"{v:.3f}" if v < 1 else f"{v:.1f}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="idle,due,deadline,report")
    p.add_argument("--idle-iterations", type=int, default=300)
    p.add_argument("--due-iterations", type=int, default=20)
    p.add_argument("--due", type=int, default=1000)
    p.add_argument("--deadline-calls", type=int, default=20000)
    p.add_argument("--report-iterations", type=int, default=5)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--save", help="append the results as one JSON line to this file")
    p.add_argument("--label", default="")
    args = p.parse_args(argv)
    only = set(args.only.split(","))
    if connection.vendor != "postgresql":
        sys.exit("bench/sla_run.py needs the PostgreSQL bench database.")
    now = bench_now()
    # Exact counts scan gigabytes: estimates now, the counts once everything is measured.
    size = {
        table: int(scalar("SELECT reltuples FROM pg_class WHERE relname = %s", [table]))
        for table in ("core_ticket", "sla_slatimer", "sla_slaescalation")
    }
    if "due" in only or "idle" in only:
        # Start from a clean, flushed state: the due runs write (and vacuum) these tables.
        vacuum(WRITTEN + WRITTEN_SMALL)
        with connection.cursor() as cur:
            cur.execute("CHECKPOINT")
    res = {
        "label": args.label,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load_before": os.getloadavg(),
        "now": now.isoformat(),
        "size": size,
    }
    print(f"# SLA bench {res['started']}, load {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"now = {now.isoformat()}; {json.dumps(size)}\n")
    if "idle" in only:
        r = res["idle"] = sweep_idle(now, args.idle_iterations)
        print(
            f"(a) sweep, nothing due ({r['n']} runs): p50 {f(r['p50'])} ms, p95 {f(r['p95'])} ms, "
            f"max {f(r['max'])} ms; {r['queries']} queries; claim SQL exec "
            f"{r['sql']['exec_ms']:.3f} ms + plan {r['sql']['plan_ms']:.3f} ms via "
            f"{', '.join(r['sql']['indexes'])}",
            flush=True,
        )
    if "due" in only:
        r = res["due"] = sweep_due(now, args.due_iterations, args.due, args.seed)
        q = r["queries"]
        print(
            f"(b) sweep, {args.due} due ({r['n']} runs): p50 {f(r['p50'])} ms, p95 {f(r['p95'])} "
            f"ms, max {f(r['max'])} ms; {q['count']} queries ({q['sql_ms']:.0f} ms in SQL); "
            f"check {r['check']}; next percent of the primed timers {r['percent_mix']}",
            flush=True,
        )
    if "deadline" in only:
        res["deadline"] = deadlines(now, args.deadline_calls, args.seed)
        for r in res["deadline"]:
            print(
                f"(c) {r['calendar']} ({r['holidays']}): add_business_us warm mean "
                f"{r['warm']['mean'] * 1000:.1f} µs p95 {r['warm']['p95'] * 1000:.1f} µs max "
                f"{r['warm']['max']:.3f} ms; cold mean {r['cold']['mean']:.3f} ms p95 "
                f"{r['cold']['p95']:.3f} ms; one timer's _schedule mean "
                f"{r['schedule']['mean'] * 1000:.1f} µs p95 {r['schedule']['p95'] * 1000:.1f} µs",
                flush=True,
            )
    if "report" in only:
        r = res["report"] = report(now, args.report_iterations)
        if r is None:
            print("(d) mainspring/sla/report.py does not exist yet: not measured")
        else:
            print(f"(d) compliance{r['signature']}")
            for by, c in r["cases"].items():
                sql = "; ".join(
                    f"exec {s['exec_ms']:.0f} ms plan {s['plan_ms']:.1f} ms "
                    f"via {', '.join(s['indexes'])}"
                    for s in c["queries"]
                )
                print(
                    f"    by={by}: p50 {f(c['p50'])} ms p95 {f(c['p95'])} ms max {f(c['max'])} ms, "
                    f"{c['rows']} rows, {c['counted']:,} timers counted; SQL: {sql}"
                )
    res["load_after"] = os.getloadavg()
    print(f"\nload after: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
    res["size"] = {
        "open_tickets": scalar("SELECT count(*) FROM core_ticket WHERE is_open"),
        "closed_tickets": scalar("SELECT count(*) FROM core_ticket WHERE NOT is_open"),
        "timers": scalar("SELECT count(*) FROM sla_slatimer"),
        "timers_scheduled": scalar(
            "SELECT count(*) FROM sla_slatimer WHERE next_threshold_at IS NOT NULL"
        ),
        "escalations": scalar("SELECT count(*) FROM sla_slaescalation"),
    }
    print(json.dumps(res["size"]))
    if args.save:
        with open(args.save, "a") as fh:
            fh.write(json.dumps(res, default=str) + "\n")


if __name__ == "__main__":
    main()
