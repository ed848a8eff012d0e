"""Load open tickets with running SLA timers, and a year of finished ones, into PostgreSQL.

    MAINSPRING_DATABASE_URL=postgres://postgres@127.0.0.1:5432/sla_bench \\
        .venv/bin/python bench/sla_generate.py --open 10000 --history 1000000

``--open`` and ``--history`` are totals: a second run with a larger ``--open`` adds
tickets until the database holds that many open ones (so the sweep can be measured at
10k, 100k and 1M in one database), ``--truncate`` starts again.

Every ticket is a ``core_ticket`` row plus its ``incidents_incident`` row (the people,
groups and categories come from ``bench/generate.py``'s reference data), and each P1–P4
ticket has the demo SLAs' two timers (``mainspring/sla/demo.py``: 24×7 for P1/P2, UK
office hours with bank holidays for P3/P4). Timer rows are computed with the app's own
calendar arithmetic and snapshot, exactly as ``sla.services.start_timer`` / ``_schedule``
/ ``_stop`` and the sweep would have left them at the bench's reference time ``now``:

* open tickets (created over the weeks before ``now``): the response timer is stopped
  (met or breached) once the ticket was answered, running while it is ``new``; the
  resolution timer runs (paused while ``on_hold``); about a third are already breached.
  Thresholds that were due before ``now`` have their ``SlaEscalation`` rows, the next
  one (``next_threshold_at``) lies after ``now``: nothing is due at ``now``;
* history: closed (or cancelled) tickets created over the 365 days before ``now``, their
  timers met, breached or cancelled, for the compliance report. They are loaded before
  the open ones with ``created_at`` increasing with the id, as a real database fills
  (load the history in one run: a second ``--history`` top-up spans the year again);
* ``core_ticket.sla_breach_at`` / ``sla_at_risk_at`` are the soonest running deadline,
  as ``services.refresh_ticket_deadlines`` writes them.

``now`` is fixed on the first run (stored in ``bench_sla_meta``) so later runs and
``bench/sla_run.py`` use the same clock. Rows are COPYed over four connections with the
secondary indexes dropped (for big loads) and rebuilt, then VACUUM ANALYZE. Like
``generate.py`` this bypasses the services: only for a throw-away database.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate as base  # first: it sets up Django
import psycopg

from mainspring.sla import services
from mainspring.sla.calendar import _from_us, _to_us, add_business_us, between_us, spec_for
from mainspring.sla.demo import load_demo_slas
from mainspring.sla.models import BusinessCalendar, CalendarDay

US = 1_000_000
DAY_US = 86_400 * US
SLA_TABLES = ["core_ticket", "incidents_incident", "sla_slatimer", "sla_slaescalation"]
TIMER_COLS = (
    "id, name, target, duration_seconds, calendar_config, pause_states, reopen, thresholds, "
    "state, started_at, running_since, banked_us, breach_at, next_percent, next_threshold_at, "
    "breached_at, stopped_at, definition_id, ticket_id, assignment_group_id, at_risk_at, priority"
)
ESCALATION_COLS = "id, percent, fired_at, actions, timer_id"
TICKET_COLS = base.TICKET_COLS + ", sla_breach_at, sla_at_risk_at"
N = base.N
# The calendar the deadline benchmark uses besides the demo's: a lunch break, French
# public holidays and two company closing days.
PARIS = "Paris office (lunch break, FR holidays)"


def tsu(us: int | None) -> str:
    return N if us is None else _from_us(us).isoformat()


def meta(pg: psycopg.Connection, key: str, default: str | None = None) -> str | None:
    pg.execute("CREATE TABLE IF NOT EXISTS bench_sla_meta (key text PRIMARY KEY, value text)")
    row = pg.execute("SELECT value FROM bench_sla_meta WHERE key = %s", [key]).fetchone()
    if row is None and default is not None:
        pg.execute("INSERT INTO bench_sla_meta VALUES (%s, %s)", [key, default])
        return default
    return row[0] if row else None


def bench_now(pg: psycopg.Connection) -> datetime:
    """The bench's reference time: set (to the current minute) on the first run."""
    value = meta(pg, "now", datetime.now(UTC).replace(second=0, microsecond=0).isoformat())
    pg.commit()
    return datetime.fromisoformat(value)


def ensure_slas() -> dict:
    """The demo calendars and SLAs, plus the Paris calendar; per priority, both definitions."""
    definitions = load_demo_slas()
    office = BusinessCalendar.objects.get(name__startswith="Office hours")
    for day, name in (("2026-12-24", "Company closing"), ("2026-12-31", "Company closing")):
        CalendarDay.objects.get_or_create(calendar=office, date=day, defaults={"name": name})
    paris, _ = BusinessCalendar.objects.get_or_create(
        name=PARIS,
        defaults={
            "time_zone": "Europe/Paris",
            "hours": {str(d): [["08:00", "12:00"], ["13:00", "17:30"]] for d in range(5)},
            "holiday_country": "FR",
        },
    )
    for day in ("2026-08-14", "2026-12-24"):
        CalendarDay.objects.get_or_create(calendar=paris, date=day, defaults={"name": "Bridge"})
    out: dict[int, dict] = {}
    for d in definitions:
        d = type(d).objects.select_related("calendar").get(pk=d.pk)
        config = d.calendar.as_config()
        percents = sorted(t["percent"] for t in d.thresholds)
        out.setdefault(d.priorities[0], {})[d.target] = {
            "id": d.pk,
            "name": d.name,
            "target": d.target,
            "D": d.duration_seconds,
            "spec": spec_for(config),
            "config": base.clean(json.dumps(config)),
            "pause": base.clean(json.dumps(d.pause_states)),
            "reopen": d.reopen,
            "thresholds": base.clean(json.dumps(d.thresholds)),
            "percents": percents,
            "actions": {t["percent"]: base.clean(json.dumps(t["actions"])) for t in d.thresholds},
            # Business seconds per calendar second, to turn a fraction of the target
            # into an approximate age.
            "density": sum((e - s) for day in spec_for(config).weekly for s, e in day)
            / (7 * 86_400),
        }
    return out


def thr_us(d: dict, percent: int) -> int:
    return -(-percent * d["D"] * US // 100)


def timer(d: dict, start: int, until: int, *, mode: str) -> tuple[dict, list[tuple[int, int]]]:
    """One timer's columns at ``until`` (now, the pause or the stop) and its fired thresholds.

    ``mode``: ``run`` (running at ``until`` = now), ``pause`` (paused since ``until``),
    ``stop`` (stopped at ``until``), ``cancel``. Mirrors services._schedule/_fire_due/_stop
    with banked time 0 before ``until``.
    """
    spec = d["spec"]
    fired: list[tuple[int, int]] = []
    next_percent = next_at = breached_at = None
    for p in d["percents"]:
        at = add_business_us(spec, start, thr_us(d, p))
        if at <= until:
            fired.append((p, at))
            if p >= 100 and breached_at is None:
                breached_at = at
        else:
            next_percent, next_at = p, at
            break
    if breached_at is not None:
        breach_at = at_risk = breached_at
    else:
        breach_at = add_business_us(spec, start, d["D"] * US)
        at_risk = add_business_us(spec, start, thr_us(d, services.AT_RISK_PERCENT))
    row = {
        "state": "breached" if breached_at else "in_progress",
        "running_since": start,
        "banked": 0,
        "breach_at": breach_at,
        "at_risk": at_risk,
        "next_percent": next_percent,
        "next_at": next_at,
        "breached_at": breached_at,
        "stopped_at": None,
    }
    if mode == "run":
        return row, fired
    banked = between_us(spec, start, until)
    row.update(running_since=None, banked=banked, next_at=None)
    if mode == "pause":
        row["breach_at"] = row["at_risk"] = breached_at
        if breached_at is None:
            row["state"] = "paused"
        return row, fired
    row["stopped_at"] = until
    if mode == "cancel":
        row["state"] = "cancelled"
    elif breached_at is not None or banked > d["D"] * US:
        row["state"] = "breached"
        row["breached_at"] = breached_at or breach_at
    else:
        row["state"] = "met"
    return row, fired


class Loader:
    """Streams tickets, incidents, timers and escalations; ids continue after the highest."""

    def __init__(self, url: str, fast: bool, ids: dict, ref: dict, slas: dict, now_us: int):
        self.tickets = base.Stream(url, "core_ticket", TICKET_COLS, fast)
        self.incidents = base.Stream(url, "incidents_incident", base.INCIDENT_COLS, fast)
        self.timers = base.Stream(url, "sla_slatimer", TIMER_COLS, fast)
        self.escalations = base.Stream(url, "sla_slaescalation", ESCALATION_COLS, fast)
        self.ids = ids
        self.ref = ref
        self.slas = slas
        self.now = now_us
        self.prio_t = base.weighted(base.PRIORITY_WEIGHTS)
        self.chan_t = base.weighted(base.CHANNELS)
        self.open_t = base.weighted(base.OPEN_STATES)
        groups = ref["groups"]
        self.group_t = base.weighted([(g, 1.0 / (i + 1) ** 0.5) for i, g in enumerate(groups)])
        self.cats = list(ref["categories"].items())

    def streams(self) -> tuple:
        return (self.tickets, self.incidents, self.timers, self.escalations)

    def close(self) -> None:
        for s in self.streams():
            s.close()

    def abort(self) -> None:
        for s in self.streams():
            with contextlib.suppress(Exception):
                s.conn.close()

    # -- rows ---------------------------------------------------------------------------
    def add_timer(self, d: dict, tid: int, ticket: dict, start: int, until: int, mode: str):
        row, fired = timer(d, start, until, mode=mode)
        self.ids["timer"] += 1
        timer_id = self.ids["timer"]
        group = ticket["group"]
        self.timers.add(
            "\t".join(
                (
                    str(timer_id),
                    d["name"],
                    d["target"],
                    str(d["D"]),
                    d["config"],
                    d["pause"],
                    d["reopen"],
                    d["thresholds"],
                    row["state"],
                    tsu(start),
                    tsu(row["running_since"]),
                    str(row["banked"]),
                    tsu(row["breach_at"]),
                    str(row["next_percent"]) if row["next_percent"] is not None else N,
                    tsu(row["next_at"]),
                    tsu(row["breached_at"]),
                    tsu(row["stopped_at"]),
                    str(d["id"]),
                    str(tid),
                    str(group) if group else N,
                    tsu(row["at_risk"]),
                    str(ticket["priority"]),
                )
            )
            + "\n"
        )
        for percent, at in fired:
            self.ids["escalation"] += 1
            self.escalations.add(
                f"{self.ids['escalation']}\t{percent}\t{tsu(at)}\t{d['actions'][percent]}"
                f"\t{timer_id}\n"
            )
        return row

    def add_ticket(self, rnd: random.Random, *, open_: bool, at: float = 0.0) -> None:
        """One incident and its timers; ``at`` (0..1) places a closed one in the past year."""
        self.ids["ticket"] += 1
        self.ids["number"] += 1
        tid = self.ids["ticket"]
        priority = base.pick(rnd, self.prio_t)
        impact, urgency = rnd.choice(base.PRIORITY_CELLS[priority])
        slas = self.slas.get(priority)
        now = self.now
        if open_:
            state = base.pick(rnd, self.open_t)
        else:
            state = "cancelled" if rnd.random() < 0.08 else "closed"
        group = base.pick(rnd, self.group_t) if (state != "new" or rnd.random() < 0.7) else None
        members = self.ref["members"]
        assignee = None
        if group is not None and state != "new" and members.get(group):
            assignee = rnd.choice(members[group])
        reqs = self.ref["requesters"]
        req_id, _ = reqs[int(len(reqs) * rnd.random() ** 2)]
        ticket = {"priority": priority, "group": group}

        # When it was created: for an SLA'd open ticket, from how far into its
        # resolution target it should be (a third already breached).
        res = slas["resolution"] if slas else None
        if open_:
            if res:
                f = rnd.random() if rnd.random() < 0.75 else 1 + 3 * rnd.random()
                age = int(f * res["D"] / res["density"] * US) + rnd.randint(0, 3600 * US)
            else:
                age = rnd.randint(60 * US, 60 * DAY_US)
            created = now - age
        else:
            # Increasing with the id, as tickets arrive: timers of one month are neighbours
            # on disk, as in a real database (the report reads them by started_at).
            span = 362 * DAY_US
            created = now - 365 * DAY_US + int(span * at) + rnd.randint(0, 3600 * US)

        responded = resolved = closed = None
        breach_candidates: list[tuple[int, int | None]] = []
        if slas:
            resp = slas["response"]
            if open_ and state == "new":
                row = self.add_timer(resp, tid, ticket, created, now, "run")
                breach_candidates.append((row["breach_at"], row["at_risk"]))
            else:
                limit = (now if open_ else now - 3600 * US) - created
                g = 0.05 + 0.95 * rnd.random() if rnd.random() < 0.8 else 1 + 2 * rnd.random()
                responded = add_business_us(resp["spec"], created, int(g * resp["D"] * US))
                if responded - created > 0.9 * limit:
                    responded = created + int(0.9 * limit * rnd.random())
                if state == "cancelled" and rnd.random() < 0.3:
                    responded = None
            if open_:
                if state != "new":
                    self.add_timer(resp, tid, ticket, created, responded, "stop")
                if state == "on_hold":
                    held = responded + int((now - responded) * (0.3 + 0.7 * rnd.random()))
                    row = self.add_timer(res, tid, ticket, created, held, "pause")
                else:
                    row = self.add_timer(res, tid, ticket, created, now, "run")
                breach_candidates.append((row["breach_at"], row["at_risk"]))
            else:
                f = 0.1 + 0.9 * rnd.random() if rnd.random() < 0.85 else 1 + 2 * rnd.random()
                end = add_business_us(res["spec"], created, int(f * res["D"] * US))
                start_from = responded or created
                end = max(end, start_from + 60 * US)
                if end > now - 3600 * US:
                    end = start_from + int((now - 3600 * US - start_from) * rnd.random())
                if state == "cancelled":
                    closed = end
                    if responded is not None:
                        self.add_timer(resp, tid, ticket, created, responded, "stop")
                    else:
                        self.add_timer(resp, tid, ticket, created, closed, "cancel")
                    self.add_timer(res, tid, ticket, created, closed, "cancel")
                else:
                    resolved = end
                    closed = min(now - 60 * US, resolved + rnd.randint(0, 3 * DAY_US))
                    self.add_timer(resp, tid, ticket, created, responded, "stop")
                    self.add_timer(res, tid, ticket, created, resolved, "stop")
        else:  # P5: no SLA
            if state != "new":
                responded = created + int((now - created) * 0.1 * rnd.random())
            if not open_:
                end = created + int((now - created) * 0.5 * rnd.random()) + 60 * US
                if state == "cancelled":
                    closed = end
                else:
                    resolved = end
                    closed = min(now - 60 * US, resolved + rnd.randint(0, 3 * DAY_US))

        running = [(b, r) for b, r in breach_candidates if b is not None]
        sla_breach = min((b for b, _ in running), default=None)
        sla_risk = min((r for _, r in running if r is not None), default=None)
        channel = base.pick(rnd, self.chan_t)
        if channel in ("portal", "email", "api", "monitoring"):
            opened_by = req_id
        else:
            opened_by = (assignee or rnd.choice(members[self.ref["groups"][0]]))[0]
        updated = closed or resolved or responded or created
        self.tickets.add(
            "\t".join(
                (
                    str(tid),
                    f"INC{self.ids['number']:07d}",
                    "incident",
                    f"{rnd.choice(base.SERVICES)} {rnd.choice(base.SYMPTOMS)}",
                    " ".join(rnd.sample(base.SENTENCES, 2)),
                    state,
                    "t" if open_ else "f",
                    impact,
                    urgency,
                    str(priority),
                    channel,
                    tsu(created),
                    tsu(updated),
                    tsu(responded),
                    tsu(resolved),
                    tsu(closed),
                    str(len(base.STATE_PATHS[state]) + (1 if assignee else 0)),
                    str(assignee[0]) if assignee else N,
                    str(group) if group else N,
                    str(opened_by),
                    N,
                    str(req_id),
                    tsu(sla_breach),
                    tsu(sla_risk),
                )
            )
            + "\n"
        )
        cat, subs = rnd.choice(self.cats) if rnd.random() < 0.8 else (None, [])
        sub = rnd.choice(subs) if subs and rnd.random() < 0.7 else None
        codes = self.ref["codes"]
        self.incidents.add(
            "\t".join(
                (
                    str(tid),
                    rnd.choice(base.HOLD_REASONS) if state == "on_hold" else "",
                    "t" if priority == 1 and rnd.random() < 0.2 else "f",
                    rnd.choice(base.RESOLUTION_NOTES) if resolved else "",
                    "0",
                    str(cat) if cat else N,
                    str(sub) if sub else N,
                    str(rnd.choice(codes[:4])) if resolved and codes else N,
                )
            )
            + "\n"
        )


def secondary_indexes(pg: psycopg.Connection) -> list[tuple[str, str]]:
    """Secondary indexes of the loaded tables (not primary keys or unique constraints)."""
    return pg.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY 1
        """,
        [SLA_TABLES],
    ).fetchall()


def run(args: argparse.Namespace) -> None:
    t0 = time.monotonic()
    url = base.connection_url()
    pg = psycopg.connect(url)
    fast = base.is_superuser(pg)
    if args.truncate:
        pg.execute("TRUNCATE core_ticket RESTART IDENTITY CASCADE")
        pg.execute("DROP TABLE IF EXISTS bench_sla_meta")
        pg.commit()
        base.log("truncated tickets, timers and everything else that points at tickets", t0)
    now = bench_now(pg)
    now_us = _to_us(now)
    ref = base.ensure_reference_data(pg, 200, 20_000)
    slas = ensure_slas()
    have_open, have_closed = pg.execute(
        "SELECT count(*) FILTER (WHERE is_open), count(*) FILTER (WHERE NOT is_open) "
        "FROM core_ticket"
    ).fetchone()
    add_open = max(0, args.open - have_open)
    add_closed = max(0, args.history - have_closed)
    base.log(
        f"now = {now.isoformat()}; have {have_open:,} open / {have_closed:,} closed; "
        f"adding {add_open:,} open and {add_closed:,} closed",
        t0,
    )
    if not add_open and not add_closed:
        return
    ids = {}
    for key, table in (
        ("ticket", "core_ticket"),
        ("timer", "sla_slatimer"),
        ("escalation", "sla_slaescalation"),
    ):
        ids[key] = pg.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names
    last_number = pg.execute(
        "SELECT coalesce(max(substr(number, 4)::bigint), 0) FROM core_ticket "
        "WHERE number ~ '^INC[0-9]+$'"
    ).fetchone()[0]
    seq_value, is_called = pg.execute(
        "SELECT last_value, is_called FROM ticket_number_inc"
    ).fetchone()
    ids["number"] = max(last_number, seq_value if is_called else seq_value - 1)
    pg.commit()

    # Dropping and rebuilding the indexes pays off for a big load, not for a small top-up.
    total = pg.execute("SELECT count(*) FROM sla_slatimer").fetchone()[0]
    drop = (add_open + add_closed) * 2 > total / 3 and (add_open + add_closed) > 50_000
    defs = secondary_indexes(pg) if drop else []
    for name, _ in defs:
        pg.execute(f"DROP INDEX IF EXISTS {name}")
    pg.commit()
    if defs:
        base.log(f"dropped {len(defs)} secondary indexes for the load", t0)
    loader = Loader(url, fast, ids, ref, slas, now_us)
    try:
        rnd = random.Random(args.seed * 1_000_003 + ids["ticket"])
        # Interleave so both kinds spread over the id range the way they arrive.
        todo = add_open + add_closed
        # The past year first (oldest first), then the open tickets, newer than all of it.
        for i in range(todo):
            if i < add_closed:
                loader.add_ticket(rnd, open_=False, at=i / add_closed)
            else:
                loader.add_ticket(rnd, open_=True)
            if (i + 1) % 100_000 == 0:
                base.log(f"{i + 1:,} tickets streamed", t0)
        loader.close()
    except BaseException:
        loader.abort()
        raise
    finally:
        if defs:
            base.rebuild_indexes(url, defs, t0)
    base.log(
        f"COPY done: {loader.tickets.rows:,} tickets, {loader.timers.rows:,} timers, "
        f"{loader.escalations.rows:,} escalations",
        t0,
    )
    with psycopg.connect(url, autocommit=True) as c:
        for table in ("core_ticket", "sla_slatimer", "sla_slaescalation"):
            c.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - fixed names
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        c.execute("SELECT setval('ticket_number_inc', %s)", [ids["number"]])
        for table in SLA_TABLES:
            c.execute(f"VACUUM (ANALYZE) {table}")
        c.execute("ANALYZE identity_user")
        c.execute("ANALYZE identity_membership")
        opened, closed_n = c.execute(
            "SELECT count(*) FILTER (WHERE is_open), count(*) FILTER (WHERE NOT is_open) "
            "FROM core_ticket"
        ).fetchone()
        due = c.execute(
            "SELECT count(*) FROM sla_slatimer WHERE next_threshold_at <= %s", [now]
        ).fetchone()[0]
    base.log(f"vacuumed and analysed: {opened:,} open, {closed_n:,} closed; due at now: {due}", t0)
    pg.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--open", type=int, default=10_000, help="open tickets to have in all")
    p.add_argument(
        "--history", type=int, default=1_000_000, help="closed tickets (past year) to have in all"
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--truncate", action="store_true", help="delete every ticket first")
    args = p.parse_args(argv)
    run(args)


if __name__ == "__main__":
    main()
