"""core.add_system_entries and core.write_audits: what add_system_entry and write_audit
write, for many tickets in one INSERT (the SLA sweep and recompute use them)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mainspring.core import services as core
from mainspring.core.models import AuditEntry, Channel, JournalEntry, JournalKind
from tests.factories import make_incident

pytestmark = pytest.mark.django_db


def inserts(ctx, table: str) -> int:
    return sum(
        1 for q in ctx.captured_queries if q["sql"].startswith("INSERT") and table in q["sql"]
    )


def test_system_entries_for_many_tickets_are_one_insert(agent):
    tickets = [make_incident(by=agent) for _ in range(3)]
    before = JournalEntry.objects.count()
    with CaptureQueriesContext(connection) as ctx:
        rows = core.add_system_entries(
            [(tickets[0], "first"), (tickets[1].pk, "second"), (tickets[2], "third")],
            kind=JournalKind.WORK_NOTE,
        )
    assert len(ctx.captured_queries) == 1
    assert inserts(ctx, JournalEntry._meta.db_table) == 1
    assert len(rows) == 3
    written = JournalEntry.objects.order_by("id")[before:]
    assert [(e.ticket_id, e.body) for e in written] == [
        (tickets[0].pk, "first"),
        (tickets[1].pk, "second"),
        (tickets[2].pk, "third"),
    ]
    assert {(e.kind, e.author_id, e.channel) for e in written} == {
        (JournalKind.WORK_NOTE, None, Channel.SYSTEM)
    }


def test_nothing_to_write_is_no_query(admin):
    with CaptureQueriesContext(connection) as ctx:
        assert core.add_system_entries([]) == []
        core.write_audits({}, by=admin, channel=Channel.SYSTEM)
        core.write_audits({1: {"version": (1, 2)}}, by=admin, channel=Channel.SYSTEM)
    assert ctx.captured_queries == []


def test_audits_for_many_tickets_are_one_insert(agent, admin):
    one, two = make_incident(by=agent), make_incident(by=agent)
    with CaptureQueriesContext(connection) as ctx:
        core.write_audits(
            {
                one.pk: {"sla:Resolution": ("", "2030-01-01T10:00"), "updated_at": (1, 2)},
                two.pk: {"priority": (3, 2), "major_incident": (False, True)},
            },
            by=admin,
            channel=Channel.SYSTEM,
        )
    assert inserts(ctx, AuditEntry._meta.db_table) == 1
    rows = AuditEntry.objects.filter(actor=admin).order_by("id")
    assert [(r.ticket_id, r.field, r.old_value, r.new_value) for r in rows] == [
        (one.pk, "sla:Resolution", "", "2030-01-01T10:00"),
        (two.pk, "priority", "3", "2"),
        (two.pk, "major_incident", "no", "yes"),  # written as write_audit writes them
    ]
    assert {r.channel for r in rows} == {Channel.SYSTEM}
