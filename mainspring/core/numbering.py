"""Per-kind ticket numbers (``INC0001001``), assigned atomically.

PostgreSQL: one sequence per prefix, so concurrent creators never wait on each other
and never collide (a rolled-back create leaves a gap, which is harmless). SQLite has a
single writer anyway, so a counter row updated in the creating transaction suffices.
"""

from __future__ import annotations

from django.db import ProgrammingError, connection, transaction

from .models import NumberSequence
from .parsing import parse_int

START = 1000
WIDTH = 7

# Sequences this process has drawn from: only a first draw needs the savepoint that
# lets a missing sequence be created (two round trips saved on every later create).
_KNOWN_SEQUENCES: set[str] = set()


def _sequence_name(prefix: str) -> str:
    if not prefix.isalpha() or not prefix.isupper() or len(prefix) > 8:
        raise ValueError(f"Bad ticket prefix {prefix!r}")
    return f"ticket_number_{prefix.lower()}"


def next_number(prefix: str) -> str:
    """The next number for ``prefix``; call inside the creating transaction."""
    if connection.vendor == "postgresql":
        name = _sequence_name(prefix)
        if name in _KNOWN_SEQUENCES:
            with connection.cursor() as cursor:
                cursor.execute("SELECT nextval(%s)", [name])
                return f"{prefix}{cursor.fetchone()[0]:0{WIDTH}d}"
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT nextval(%s)", [name])
                value = cursor.fetchone()[0]
        except ProgrammingError:
            # A kind whose sequence no migration made yet: make it, then draw.
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE SEQUENCE IF NOT EXISTS {name} START {START + 1}")
                cursor.execute("SELECT nextval(%s)", [name])
                value = cursor.fetchone()[0]
        _KNOWN_SEQUENCES.add(name)
    else:
        NumberSequence.objects.get_or_create(prefix=prefix, defaults={"last_value": START})
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE core_numbersequence SET last_value = last_value + 1 "
                "WHERE prefix = %s RETURNING last_value",
                [prefix],
            )
            value = cursor.fetchone()[0]
    return f"{prefix}{value:0{WIDTH}d}"


def parse_number(text: str, prefix: str) -> str | None:
    """Normalise what a person types (``#42``, ``inc42``, ``INC0000042``) to a number."""
    raw = text.strip().lstrip("#").upper()
    if raw.startswith(prefix):
        raw = raw[len(prefix) :]
    value = parse_int(raw) if len(raw) <= 12 else None
    if value is None:
        return None
    return f"{prefix}{value:0{WIDTH}d}"


def sequence_operation(prefix: str):
    """A migration operation making PostgreSQL's sequence for ``prefix`` (a new practice's
    numbers); nothing on SQLite, which counts in ``NumberSequence``."""
    from django.db import migrations

    name = _sequence_name(prefix)

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS {name} START {START + 1}")

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP SEQUENCE IF EXISTS {name}")

    return migrations.RunPython(forwards, backwards)
