"""Load N realistic incidents into a PostgreSQL Mainspring database, fast.

    MAINSPRING_DATABASE_URL=postgres://postgres@127.0.0.1:5432/mainspring_bench \\
        .venv/bin/python bench/generate.py --incidents 1000000 --truncate

Rows are generated as COPY text and streamed (bounded memory) into core_ticket,
incidents_incident, core_journalentry and core_auditentry over four connections at
once, so PostgreSQL ingests on the second core while Python generates on the first.
Secondary indexes are dropped for the load and rebuilt afterwards (much faster than
maintaining 20 B-trees row by row), FK triggers are skipped (the generator only
writes ids it created), then everything is VACUUM ANALYZEd so the benchmark sees
warm statistics and a set visibility map, like a long-running production database.

This bypasses the services on purpose: it is a bulk loader for a throw-away bench
database, never for a real one. It refuses to run against SQLite.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mainspring.settings")

import django

django.setup()

import psycopg  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import connection  # noqa: E402

BENCH_PREFIX = "bench-"
BENCH_PASSWORD = "bench-password"  # documented in bench/README.md; a throw-away database
GROUPS = [
    "Service Desk",
    "Network",
    "Database",
    "Identity & Access",
    "End-User Computing",
    "Messaging",
    "Applications",
    "Infrastructure",
    "Security Operations",
    "Facilities IT",
]
CATEGORIES = {
    "Hardware": ["Laptop", "Desktop", "Printer", "Monitor", "Phone"],
    "Software": ["Office suite", "Browser", "ERP", "CRM", "Licensing"],
    "Network": ["VPN", "Wi-Fi", "LAN", "DNS", "Firewall"],
    "Access": ["Password", "Account locked", "Permissions", "MFA"],
    "Email": ["Mailbox", "Calendar", "Distribution list", "Spam"],
    "Database": ["Performance", "Connectivity", "Backup"],
}
SERVICES = [
    "VPN",
    "Email",
    "Printer",
    "Laptop",
    "Wi-Fi",
    "ERP",
    "CRM",
    "Payroll",
    "Teams",
    "SharePoint",
    "Intranet",
    "File share",
    "Badge reader",
    "Phone",
    "Monitor",
    "Docking station",
    "Outlook",
    "Browser",
    "HR portal",
    "Expense tool",
    "Database",
    "Build server",
    "Jira",
    "Wiki",
]
SYMPTOMS = [
    "cannot connect",
    "is very slow",
    "shows an error",
    "not working",
    "keeps disconnecting",
    "login fails",
    "crashes on start",
    "password expired",
    "access denied",
    "times out",
    "prints blank pages",
    "sync fails",
    "missing data",
    "stuck on loading",
    "no sound",
]
SENTENCES = [
    "Started this morning after the update.",
    "Several colleagues on the same floor report the same.",
    "Restarting did not help.",
    "It worked yesterday.",
    "The error message says 'unexpected failure, contact your administrator'.",
    "This blocks the month-end close.",
    "Happens on both the office network and at home.",
    "I tried clearing the cache as the knowledge article suggests.",
    "Urgent: customer meeting in one hour.",
    "Screenshot attached in the previous email.",
]
COMMENTS = [
    "Could you please try again now?",
    "We are looking into it.",
    "Still happening on my side.",
    "Thanks, it works again.",
    "Please restart and confirm.",
    "Waiting for the vendor to respond.",
    "Can you share the exact error message?",
]
WORK_NOTES = [
    "Checked the logs, nothing obvious.",
    "Escalating to second line.",
    "Known issue, linked to the ongoing problem.",
    "Applied the workaround from KB0001023.",
    "Cleared the stuck session on the gateway.",
    "Reset the account and forced MFA re-enrolment.",
]
SYSTEM_NOTES = ["State changed by the system.", "Assignment changed by routing rule."]
RESOLUTION_NOTES = [
    "Reset the user's profile.",
    "Restarted the service.",
    "Replaced the device.",
    "Re-applied the policy.",
    "Cleared the cache.",
    "User instructed.",
]
# Priority skewed to P3/P4 as in real service desks; each maps to one matrix cell.
PRIORITY_WEIGHTS = [(1, 0.02), (2, 0.08), (3, 0.40), (4, 0.40), (5, 0.10)]
PRIORITY_CELLS = {
    1: [("high", "high")],
    2: [("high", "medium"), ("medium", "high")],
    3: [("high", "low"), ("medium", "medium"), ("low", "high")],
    4: [("medium", "low"), ("low", "medium")],
    5: [("low", "low")],
}
CHANNELS = [
    ("portal", 0.45),
    ("email", 0.25),
    ("phone", 0.15),
    ("ui", 0.10),
    ("monitoring", 0.03),
    ("api", 0.02),
]
OPEN_STATES = [("new", 0.30), ("in_progress", 0.50), ("on_hold", 0.20)]
DONE_STATES = [("closed", 0.80), ("resolved", 0.12), ("cancelled", 0.08)]
HOLD_REASONS = ["awaiting_caller", "awaiting_vendor", "awaiting_change"]
STATE_PATHS = {
    "new": ["new"],
    "in_progress": ["new", "in_progress"],
    "on_hold": ["new", "in_progress", "on_hold"],
    "resolved": ["new", "in_progress", "resolved"],
    "closed": ["new", "in_progress", "resolved", "closed"],
    "cancelled": ["new", "cancelled"],
}

TICKET_COLS = (
    "id, number, kind, title, description, state, is_open, impact, urgency, priority, channel, "
    "created_at, updated_at, responded_at, resolved_at, closed_at, version, assignee_id, "
    "assignment_group_id, opened_by_id, parent_id, requester_id"
)
INCIDENT_COLS = (
    "ticket_id, hold_reason, major_incident, resolution_notes, reassignment_count, "
    "category_id, subcategory_id, resolution_code_id"
)
JOURNAL_COLS = "id, kind, body, channel, created_at, author_id, ticket_id"
AUDIT_COLS = "id, field, old_value, new_value, channel, created_at, actor_id, ticket_id"
LOADED_TABLES = ["core_ticket", "incidents_incident", "core_journalentry", "core_auditentry"]
N = "\\N"  # COPY text format NULL


def weighted(pairs: list[tuple]) -> tuple[list, list[float]]:
    values = [v for v, _ in pairs]
    cum, total = [], 0.0
    for _, w in pairs:
        total += w
        cum.append(total)
    return values, cum


def pick(rnd: random.Random, table: tuple[list, list[float]]):
    values, cum = table
    x = rnd.random() * cum[-1]
    for v, c in zip(values, cum, strict=True):
        if x < c:
            return v
    return values[-1]


def ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def log(msg: str, t0: float) -> None:
    print(f"[{time.monotonic() - t0:7.1f}s] {msg}", flush=True)


# --- Reference data: users, groups, categories (small; ORM-free COPY for speed) ----------


def ensure_reference_data(pg: psycopg.Connection, agents: int, requesters: int) -> dict:
    """Create the bench groups, people and categories once; return their ids."""
    cur = pg.cursor()
    cur.execute("SELECT count(*) FROM identity_user WHERE username LIKE %s", [BENCH_PREFIX + "%"])
    if cur.fetchone()[0] == 0:
        password = make_password(BENCH_PASSWORD)
        now = ts(time.time())
        for name in GROUPS:
            cur.execute(
                "INSERT INTO identity_assignmentgroup (name, description, email, active) "
                "VALUES (%s, '', %s, true) ON CONFLICT (name) DO NOTHING",
                [name, name.lower().replace(" ", "-").replace("&", "and") + "@example.com"],
            )
        cols = (
            "password, is_superuser, username, first_name, last_name, email, is_staff, "
            "is_active, date_joined, role, display_name, is_demo"
        )
        with cur.copy(f"COPY identity_user ({cols}) FROM STDIN") as copy:
            people = (
                [("agent", f"agent-{i:04d}", "Agent", f"{i:04d}") for i in range(1, agents + 1)]
                + [
                    ("manager", f"manager-{i:02d}", "Manager", f"{i:02d}")
                    for i in range(1, len(GROUPS) + 1)
                ]
                + [("admin", "admin", "Bench", "Admin")]
                + [
                    ("requester", f"user-{i:05d}", "User", f"{i:05d}")
                    for i in range(1, requesters + 1)
                ]
            )
            for role, handle, first, last in people:
                username = BENCH_PREFIX + handle
                copy.write_row(
                    (
                        password,
                        role == "admin",
                        username,
                        first,
                        last,
                        f"{username}@example.com",
                        False,
                        True,
                        now,
                        role,
                        f"{first} {last}",
                        False,
                    )
                )
        for parent, children in CATEGORIES.items():
            cur.execute(
                "INSERT INTO incidents_category (name, active, parent_id) VALUES (%s, true, NULL) "
                "ON CONFLICT DO NOTHING RETURNING id",
                [parent],
            )
            row = cur.fetchone()
            if row is None:
                cur.execute(
                    "SELECT id FROM incidents_category WHERE name=%s AND parent_id IS NULL",
                    [parent],
                )
                row = cur.fetchone()
            for child in children:
                cur.execute(
                    "INSERT INTO incidents_category (name, active, parent_id) "
                    "VALUES (%s, true, %s) ON CONFLICT DO NOTHING",
                    [child, row[0]],
                )
        cur.execute("SELECT id, name FROM identity_assignmentgroup WHERE name = ANY(%s)", [GROUPS])
        group_ids = {name: gid for gid, name in cur.fetchall()}
        cur.execute(
            "SELECT id, username, role FROM identity_user WHERE username LIKE %s "
            "AND role IN ('agent', 'manager') ORDER BY username",
            [BENCH_PREFIX + "%"],
        )
        staff = cur.fetchall()
        rnd = random.Random(7)
        gids = [group_ids[g] for g in GROUPS]
        members = []
        for uid, username, role in staff:
            if role == "manager":
                n = int(username.rsplit("-", 1)[1])
                members.append((gids[(n - 1) % len(gids)], uid, True))
            else:
                # Most agents sit in one team; a third also help a second one.
                first = rnd.choice(gids)
                members.append((first, uid, False))
                if rnd.random() < 0.33:
                    second = rnd.choice([g for g in gids if g != first])
                    members.append((second, uid, False))
        with cur.copy("COPY identity_membership (group_id, user_id, is_manager) FROM STDIN") as c:
            for row in members:
                c.write_row(row)
        pg.commit()

    cur.execute("SELECT id, name FROM identity_assignmentgroup WHERE name = ANY(%s)", [GROUPS])
    groups = sorted(gid for gid, _ in cur.fetchall())
    cur.execute(
        "SELECT m.group_id, m.user_id, u.display_name FROM identity_membership m "
        "JOIN identity_user u ON u.id = m.user_id WHERE u.role = 'agent' "
        "AND u.username LIKE %s ORDER BY m.id",
        [BENCH_PREFIX + "%"],
    )
    members: dict[int, list[tuple[int, str]]] = {g: [] for g in groups}
    for gid, uid, name in cur.fetchall():
        members.setdefault(gid, []).append((uid, name))
    cur.execute(
        "SELECT id, display_name FROM identity_user WHERE username LIKE %s AND role='requester' "
        "ORDER BY id",
        [BENCH_PREFIX + "%"],
    )
    reqs = cur.fetchall()
    cur.execute("SELECT id, parent_id FROM incidents_category ORDER BY id")
    cats: dict[int, list[int]] = {}
    rows = cur.fetchall()
    for cid, parent in rows:
        if parent is None:
            cats.setdefault(cid, [])
    for cid, parent in rows:
        if parent is not None and parent in cats:
            cats[parent].append(cid)
    cur.execute("SELECT id, code FROM incidents_resolutioncode ORDER BY id")
    codes = [cid for cid, _ in cur.fetchall()]
    pg.commit()
    return {
        "groups": groups,
        "members": members,
        "requesters": reqs,
        "categories": cats,
        "codes": codes,
    }


# --- Index management --------------------------------------------------------------------


def droppable_indexes(pg: psycopg.Connection) -> list[tuple[str, str]]:
    """Secondary indexes of the loaded tables (not primary keys or unique constraints)."""
    cur = pg.cursor()
    cur.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY 1
        """,
        [LOADED_TABLES],
    )
    return cur.fetchall()


def rebuild_indexes(url: str, defs: list[tuple[str, str]], t0: float) -> None:
    """Recreate the dropped indexes, two at a time (one per core)."""
    import threading

    todo = list(defs)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("SET maintenance_work_mem = '512MB'")
            c.execute("SET max_parallel_maintenance_workers = 0")
            while True:
                with lock:
                    if not todo:
                        return
                    _, ddl = todo.pop(0)
                try:
                    c.execute(ddl.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
                except BaseException as exc:  # keep going: report at the end
                    errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    log(f"rebuilt {len(defs)} indexes", t0)


# --- The generator -----------------------------------------------------------------------


class Stream:
    """One COPY on its own connection, fed in chunks so memory stays bounded."""

    def __init__(self, url: str, table: str, cols: str, fast: bool) -> None:
        self.conn = psycopg.connect(url)
        self.conn.execute("SET synchronous_commit = off")
        if fast:
            self.conn.execute("SET session_replication_role = replica")
        self.cur = self.conn.cursor()
        self.ctx = self.cur.copy(f"COPY {table} ({cols}) FROM STDIN")
        self.copy = self.ctx.__enter__()
        self.buf: list[str] = []
        self.rows = 0

    def add(self, line: str) -> None:
        self.buf.append(line)
        if len(self.buf) >= 5000:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            self.copy.write("".join(self.buf))
            self.rows += len(self.buf)
            self.buf.clear()

    def close(self) -> None:
        self.flush()
        self.ctx.__exit__(None, None, None)
        self.conn.commit()
        self.conn.close()


def clean(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", " ").replace("\n", "\\n").replace("\r", "")


def generate(args: argparse.Namespace) -> None:
    t0 = time.monotonic()
    url = connection_url()
    pg = psycopg.connect(url)
    fast = is_superuser(pg)
    if args.truncate:
        pg.execute("TRUNCATE core_ticket RESTART IDENTITY CASCADE")
        pg.commit()
        log("truncated tickets (and everything that points at them)", t0)
    ref = ensure_reference_data(pg, args.agents, args.requesters)
    log(
        f"reference data: {len(ref['groups'])} groups, "
        f"{sum(len(m) for m in ref['members'].values())} memberships, "
        f"{len(ref['requesters'])} requesters",
        t0,
    )

    cur = pg.cursor()
    cur.execute("SELECT coalesce(max(id), 0) FROM core_ticket")
    first_id = cur.fetchone()[0] + 1
    cur.execute("SELECT coalesce(max(id), 0) FROM core_journalentry")
    journal_id = cur.fetchone()[0]
    cur.execute("SELECT coalesce(max(id), 0) FROM core_auditentry")
    audit_id = cur.fetchone()[0]
    cur.execute(
        "SELECT coalesce(max(substr(number, 4)::bigint), 0) FROM core_ticket "
        "WHERE number ~ '^INC[0-9]+$'"
    )
    last_number = cur.fetchone()[0]
    cur.execute("SELECT last_value, is_called FROM ticket_number_inc")
    seq_value, is_called = cur.fetchone()
    # The next number nextval() would hand out, or one past the highest number in use.
    first_number = max(last_number + 1, seq_value + 1 if is_called else seq_value)
    pg.commit()

    defs = droppable_indexes(pg)
    for name, _ in defs:
        pg.execute(f"DROP INDEX IF EXISTS {name}")
    pg.commit()
    log(f"dropped {len(defs)} secondary indexes for the load", t0)
    try:
        counts = load(args, ref, url, fast, first_id, first_number, journal_id, audit_id, t0)
    finally:
        rebuild_indexes(url, defs, t0)

    with psycopg.connect(url, autocommit=True) as c:
        for table, col in [
            ("core_ticket", "id"),
            ("core_journalentry", "id"),
            ("core_auditentry", "id"),
        ]:
            c.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{col}'), "  # noqa: S608 - fixed table names
                f"(SELECT coalesce(max({col}), 1) FROM {table}))"
            )
        # New incidents must number after the generated ones.
        c.execute("SELECT setval('ticket_number_inc', %s)", [first_number + args.incidents - 1])
        for table in LOADED_TABLES:
            c.execute(f"VACUUM (ANALYZE) {table}")
        c.execute("ANALYZE identity_user")
        c.execute("ANALYZE identity_membership")
    log(f"vacuumed and analysed; loaded {counts}", t0)
    pg.close()


def load(args, ref, url, fast, first_id, first_number, journal_id, audit_id, t0) -> dict:
    rnd = random.Random(args.seed)
    prio_t = weighted(PRIORITY_WEIGHTS)
    chan_t = weighted(CHANNELS)
    open_t = weighted(OPEN_STATES)
    done_t = weighted(DONE_STATES)
    groups = ref["groups"]
    group_w = weighted([(g, 1.0 / (i + 1) ** 0.5) for i, g in enumerate(groups)])
    members = ref["members"]
    reqs = ref["requesters"]
    cats = list(ref["categories"].items())
    codes = ref["codes"]
    n = args.incidents
    now = time.time()
    start = now - args.years * 365 * 86400
    span = now - start
    recent_from = int(n * 0.85)
    # count = U{0..2k} + Bernoulli(frac) has mean k + frac = --journal-per-incident.
    jmax = 2 * math.floor(args.journal_per_incident)
    jfrac = args.journal_per_incident - math.floor(args.journal_per_incident)

    tickets = Stream(url, "core_ticket", TICKET_COLS, fast)
    incidents = Stream(url, "incidents_incident", INCIDENT_COLS, fast)
    journal = Stream(url, "core_journalentry", JOURNAL_COLS, fast)
    audit = Stream(url, "core_auditentry", AUDIT_COLS, fast)
    try:
        for i in range(n):
            tid = first_id + i
            created = start + span * (i + rnd.random()) / n
            # Old tickets are almost all done; the open ones cluster in recent months.
            p_open = 0.6 if i >= recent_from else 0.07
            is_open = rnd.random() < p_open
            state = pick(rnd, open_t) if is_open else pick(rnd, done_t)
            if state == "resolved" and i < recent_from:
                state = "closed"  # auto-close would have closed an old resolved ticket
            priority = pick(rnd, prio_t)
            impact, urgency = rnd.choice(PRIORITY_CELLS[priority])
            channel = pick(rnd, chan_t)
            req_id, _ = reqs[int(len(reqs) * rnd.random() ** 2)]
            group = pick(rnd, group_w) if (state != "new" or rnd.random() < 0.7) else None
            assignee = None
            if group is not None and state != "new" and members.get(group):
                assignee = rnd.choice(members[group])
            if channel in ("portal", "email", "api", "monitoring"):
                opened_by = req_id
            else:
                opened_by = (assignee or rnd.choice(members[groups[0]]))[0]
            # Lifecycle timestamps follow the state path.
            life = min(now - created, 3600 * (1 + 200 * rnd.random() ** 3))
            responded = created + life * 0.1 if state != "new" else None
            resolved = created + life * 0.8 if state in ("resolved", "closed") else None
            closed_at = None
            if state == "closed":
                closed_at = min(now, resolved + 3 * 86400 * rnd.random())
            elif state == "cancelled":
                closed_at = created + life * 0.5
            updated = closed_at or resolved or responded or created
            if is_open and state != "new":
                updated = created + life
            path = STATE_PATHS[state]
            title = f"{rnd.choice(SERVICES)} {rnd.choice(SYMPTOMS)}"
            description = " ".join(rnd.sample(SENTENCES, 2))
            reassigned = 1 if assignee and rnd.random() < 0.1 else 0
            version = len(path) + (1 if assignee else 0) + reassigned
            tickets.add(
                "\t".join(
                    (
                        str(tid),
                        f"INC{first_number + i:07d}",
                        "incident",
                        title,
                        description,
                        state,
                        "t" if is_open else "f",
                        impact,
                        urgency,
                        str(priority),
                        channel,
                        ts(created),
                        ts(updated),
                        ts(responded) if responded else N,
                        ts(resolved) if resolved else N,
                        ts(closed_at) if closed_at else N,
                        str(version),
                        str(assignee[0]) if assignee else N,
                        str(group) if group else N,
                        str(opened_by),
                        N,
                        str(req_id),
                    )
                )
                + "\n"
            )
            cat, subs = rnd.choice(cats) if rnd.random() < 0.8 else (None, [])
            sub = rnd.choice(subs) if subs and rnd.random() < 0.7 else None
            done = state in ("resolved", "closed")
            incidents.add(
                "\t".join(
                    (
                        str(tid),
                        rnd.choice(HOLD_REASONS) if state == "on_hold" else "",
                        "t" if priority == 1 and rnd.random() < 0.2 else "f",
                        rnd.choice(RESOLUTION_NOTES) if done else "",
                        str(reassigned),
                        str(cat) if cat else N,
                        str(sub) if sub else N,
                        str(rnd.choice(codes[:4])) if done and codes else N,
                    )
                )
                + "\n"
            )

            # Audit: the creation, the assignment, each state step.
            actor = assignee[0] if assignee else opened_by
            steps = [
                ("state", "", "new", opened_by, created),
                ("priority", "", str(priority), opened_by, created),
            ]
            if assignee:
                steps.append(("assignee", "", assignee[1], opened_by, created + life * 0.05))
            for k in range(1, len(path)):
                at = {
                    "in_progress": responded,
                    "on_hold": created + life * 0.5,
                    "resolved": resolved,
                    "closed": closed_at,
                    "cancelled": closed_at,
                }[path[k]] or created
                steps.append(("state", path[k - 1], path[k], actor, at))
            for field, old, new, who, at in steps:
                audit_id += 1
                audit.add(f"{audit_id}\t{field}\t{old}\t{new}\t{channel}\t{ts(at)}\t{who}\t{tid}\n")

            # Journal: 0..2*mean entries (mean = --journal-per-incident).
            count = rnd.randint(0, jmax) + (1 if rnd.random() < jfrac else 0)
            end = updated if updated > created else created + 60
            for _ in range(count):
                journal_id += 1
                at = created + (end - created) * rnd.random()
                x = rnd.random()
                if x < 0.45 or not assignee:
                    kind, body, author = (
                        "comment",
                        rnd.choice(COMMENTS),
                        (req_id if x < 0.2 or not assignee else assignee[0]),
                    )
                elif x < 0.9:
                    kind, body, author = "work_note", rnd.choice(WORK_NOTES), assignee[0]
                else:
                    kind, body, author = "system", rnd.choice(SYSTEM_NOTES), None
                journal.add(
                    f"{journal_id}\t{kind}\t{body}\t{channel if author == req_id else 'ui'}"
                    f"\t{ts(at)}\t{author if author else N}\t{tid}\n"
                )
            if (i + 1) % 100_000 == 0:
                log(f"{i + 1:,} incidents streamed", t0)
        streams = (tickets, incidents, journal, audit)
        for s in streams:
            s.close()
    except BaseException:
        for s in (tickets, incidents, journal, audit):
            with contextlib.suppress(Exception):  # best effort on the way out
                s.conn.close()
        raise
    log("COPY done", t0)
    return {
        "tickets": tickets.rows,
        "incidents": incidents.rows,
        "journal": journal.rows,
        "audit": audit.rows,
    }


def connection_url() -> str:
    if connection.vendor != "postgresql":
        sys.exit("bench/generate.py needs PostgreSQL: set MAINSPRING_DATABASE_URL=postgres://...")
    url = os.environ.get("MAINSPRING_DATABASE_URL", "")
    if not url:
        sys.exit("Set MAINSPRING_DATABASE_URL to the bench database.")
    return url


def is_superuser(pg: psycopg.Connection) -> bool:
    """FK triggers can only be skipped by a superuser; others load with them on."""
    return pg.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--incidents", type=int, default=1_000_000)
    p.add_argument(
        "--journal-per-incident",
        type=float,
        default=2.5,
        help="mean journal entries per incident (default 2.5)",
    )
    p.add_argument("--agents", type=int, default=200)
    p.add_argument("--requesters", type=int, default=20_000)
    p.add_argument("--years", type=float, default=3.0, help="spread created_at over N years")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--truncate", action="store_true", help="delete all tickets (and their journal/audit) first"
    )
    args = p.parse_args(argv)
    if args.incidents < 1:
        p.error("--incidents must be at least 1")
    generate(args)


if __name__ == "__main__":
    main()
